// The real dirsyncd binary in daemon mode against the fake WorkOS server over real TLS: start
// both, talk to the daemon as systemd would, compare the mirror with the fake's data.
#pragma once

#include "fake_workos.hpp"
#include "support/background_process.hpp"
#include "support/mirror_compare.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace test {

using namespace std::chrono_literals;

// A NOTIFY_SOCKET the daemon talks to, as systemd would: read all the time, like systemd, so
// that a daemon never blocks in sd_notify on a full socket while a test looks elsewhere.
class NotifySocket {
public:
    explicit NotifySocket(std::string path)
        : path_(std::move(path))
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("bind notify socket");
        timeval tv{0, 50 * 1000}; // the reader looks at `stop_` this often
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        reader_ = std::thread([this] {
            char buf[4096];
            while (!stop_) {
                auto const n = ::recv(fd_, buf, sizeof buf, 0);
                if (n <= 0)
                    continue;
                std::lock_guard lock(mutex_);
                received_.emplace_back(buf, static_cast<std::size_t>(n));
            }
        });
    }
    ~NotifySocket()
    {
        stop_ = true;
        reader_.join();
        ::close(fd_);
    }
    std::string const& path() const { return path_; }
    // Every message received so far, one per entry.
    std::vector<std::string> messages()
    {
        std::lock_guard lock(mutex_);
        return received_;
    }
    bool got(std::string const& prefix)
    {
        for (auto const& m : messages())
            if (m.find(prefix) != std::string::npos)
                return true;
        return false;
    }

private:
    std::string path_;
    int fd_ = -1;
    std::mutex mutex_;
    std::vector<std::string> received_;
    std::atomic<bool> stop_{false};
    std::thread reader_;
};

class DaemonFixture : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string db_path = dir.file("mirror.db");
    std::unique_ptr<fake::FakeWorkos> fake;
    std::unique_ptr<test::BackgroundProcess> daemon;
    std::unique_ptr<NotifySocket> notify;
    int starts = 0;

    std::function<void(fake::FakeOptions&)> fake_options{}; // set before start_fake

    void start_fake(fake::DatasetSpec spec = {21, 2, 80, 8, 2}, bool rate_limit = false)
    {
        fake::FakeOptions o;
        o.rate_limit = rate_limit;
        if (fake_options)
            fake_options(o);
        fake = std::make_unique<fake::FakeWorkos>(fake::Dataset::generate(spec), o, test::tls());
    }

    std::map<std::string, std::string> extra_env;

    // The daemon's config file: a short poll interval, then `extra`. Rewrite it before SIGHUP.
    std::string write_config(std::string const& extra)
    {
        auto const config = dir.file("dirsyncd.toml");
        std::ofstream(config) << "poll_interval_seconds = 0.2\n" << extra;
        return config;
    }

    void start_daemon(std::string const& extra_config = "")
    {
        auto const config = write_config(extra_config);
        notify = std::make_unique<NotifySocket>(dir.file("notify" + std::to_string(starts)));
        auto env = extra_env;
        env["WORKOS_API_KEY"] = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
        env["NOTIFY_SOCKET"] = notify->path();
        daemon = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{DIRSYNCD_BINARY, "--config", config, "--db", db_path,
                                     "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
            env, dir.file("daemon" + std::to_string(starts++) + ".log"));
    }

    void TearDown() override
    {
        if (daemon && daemon->running()) {
            daemon->signal(SIGTERM);
            daemon->wait(10s);
        }
        if (HasFailure() && daemon)
            std::cerr << "---- daemon output ----\n" << daemon->output() << "----\n";
    }

    std::vector<std::string> differences()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return fake->with(
            [&](fake::FakeApi& a) { return test::mirror_differences(db, a.dataset()); });
    }
    bool converged(std::chrono::milliseconds timeout = 20s)
    {
        return eventually(
            [&] {
                try {
                    return differences().empty();
                } catch (SQLite::Exception const&) {
                    return false; // not created yet
                }
            },
            timeout);
    }
    bool ready()
    {
        return eventually([&] { return notify->got("READY=1"); }, 30s);
    }
    std::uint64_t requests(std::string const& route)
    {
        return fake->with([&](fake::FakeApi& a) {
            auto it = a.stats().requests.find(route);
            return it == a.stats().requests.end() ? std::uint64_t{0} : it->second;
        });
    }
    template <class F>
    void mutate(F&& f)
    {
        fake->with([&](fake::FakeApi& a) { f(a.dataset()); });
    }
    std::string first_directory()
    {
        return fake->with(
            [](fake::FakeApi& a) { return a.dataset().directories().begin()->first; });
    }
};

} // namespace test
