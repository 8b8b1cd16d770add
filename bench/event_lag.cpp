// Benchmark: the lag from a change upstream to the row in the mirror, and the daemon's idle cost.
//
//   dirsync-bench-lag [--mutations N] [--poll SECONDS] [--idle SECONDS]
//
// Starts the fake WorkOS server in-process (HTTPS, throwaway CA), runs the real dirsyncd in daemon
// mode against it, waits for the first full sync, then renames N users at random moments
// (0 to 1 s apart) and measures, for each, the time until the new name is in the database (the
// database is polled every 5 ms). Then leaves the daemon idle and reads its CPU time and memory
// from /proc.
#include "fake_workos.hpp"
#include "support/background_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds(int pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        fields >> f;
        if (i == 14)
            utime = std::stol(f);
        if (i == 15)
            stime = std::stol(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string status_field(int pid, std::string const& name)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + ":", 0) == 0)
            return line.substr(name.size() + 1);
    return "?";
}

} // namespace

int main(int argc, char** argv)
{
    int mutations = 100;
    double poll = 10;
    int idle = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string const a = argv[i];
        if (a == "--mutations")
            mutations = std::stoi(argv[i + 1]);
        else if (a == "--poll")
            poll = std::stod(argv[i + 1]);
        else if (a == "--idle")
            idle = std::stoi(argv[i + 1]);
    }

    test::TempDir dir;
    auto const db_path = dir.file("mirror.db");
    fake::FakeWorkos fake(fake::Dataset::generate({5, 3, 3000, 150, 2}), {}, test::tls());
    std::ofstream(dir.file("dirsyncd.toml")) << "poll_interval_seconds = " << poll << "\n";
    auto const key = fake.with([](fake::FakeApi& a) { return a.options().api_key; });
    test::BackgroundProcess daemon({DIRSYNCD_BINARY, "--config", dir.file("dirsyncd.toml"), "--db",
                                    db_path, "--api-url", fake.url(), "--ca-file",
                                    test::cert("ca.pem")},
                                   {{"WORKOS_API_KEY", key}}, dir.file("daemon.log"));
    if (!test::eventually(
            [&] { return daemon.output().find("event stream starts") != std::string::npos; },
            10min)) {
        std::cerr << "the first sync did not finish\n" << daemon.output();
        return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(poll * 1000) + 500));

    auto const users = fake.with([](fake::FakeApi& a) {
        std::vector<std::string> ids;
        for (auto const& [id, u] : a.dataset().users())
            ids.push_back(id);
        return ids;
    });
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> gap_ms(0, 1000);
    std::vector<Clock::time_point> changed(static_cast<std::size_t>(mutations));
    std::vector<std::optional<Clock::duration>> lag(static_cast<std::size_t>(mutations));
    std::atomic<int> issued{0};

    std::thread watcher([&] {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        SQLite::Statement q(db, "SELECT first_name FROM users WHERE id = ?");
        int done = 0;
        while (done < mutations) {
            int const upto = issued.load();
            for (int i = 0; i < upto; ++i) {
                auto const idx = static_cast<std::size_t>(i);
                if (lag[idx])
                    continue;
                q.reset();
                q.bind(1, users[idx * 7 % users.size()]);
                if (q.executeStep() && q.getColumn(0).getString() == "Lag" + std::to_string(i)) {
                    lag[idx] = Clock::now() - changed[idx];
                    ++done;
                }
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    for (int i = 0; i < mutations; ++i) {
        auto const idx = static_cast<std::size_t>(i);
        fake.with([&](fake::FakeApi& a) {
            a.dataset().update_user(users[idx * 7 % users.size()], "Lag" + std::to_string(i));
            changed[idx] = Clock::now();
        });
        issued = i + 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms(rng)));
    }
    watcher.join();

    std::vector<double> ms;
    for (auto const& l : lag)
        ms.push_back(std::chrono::duration<double, std::milli>(*l).count());
    std::sort(ms.begin(), ms.end());
    std::printf(
        "poll interval %.1f s, %d mutations: lag median %.0f ms, p90 %.0f ms, max %.0f ms\n", poll,
        mutations, ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());

    if (idle > 0) {
        double const cpu0 = cpu_seconds(daemon.pid());
        std::this_thread::sleep_for(std::chrono::seconds(idle));
        double const cpu1 = cpu_seconds(daemon.pid());
        std::printf("idle %d s: CPU %.2f s (%.3f %% of one core); RSS%s, peak%s\n", idle,
                    cpu1 - cpu0, 100.0 * (cpu1 - cpu0) / idle,
                    status_field(daemon.pid(), "VmRSS").c_str(),
                    status_field(daemon.pid(), "VmHWM").c_str());
    }
    daemon.signal(SIGTERM);
    daemon.wait(10s);
    return 0;
}
