// What an operator relies on, with the real binary: journal priorities on every line, lines of a
// readable length, and a full-resync schedule that follows sync_state across restarts.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <sstream>

using namespace std::chrono_literals;
using test::eventually;

namespace {

class OperatorTest : public test::DaemonFixture {
protected:
    // Every line of `output`: "<N>[level] text" with N the level's syslog priority, at most 300
    // characters. Returns the priorities seen.
    static std::set<int> check_journal_lines(std::string const& output)
    {
        static std::map<std::string, int> const priority{
            {"critical", 2}, {"error", 3}, {"warning", 4}, {"info", 6}, {"debug", 7}, {"trace", 7}};
        std::regex const line_form(R"(^<([0-9])>\[(\w+)\] .+)");
        std::set<int> seen;
        std::istringstream in(output);
        for (std::string line; std::getline(in, line);) {
            EXPECT_LE(line.size(), 300u) << line;
            std::smatch m;
            if (!std::regex_match(line, m, line_form)) {
                ADD_FAILURE() << "no journal priority: " << line;
                continue;
            }
            auto const level = m[2].str();
            if (!priority.count(level)) {
                ADD_FAILURE() << "unknown level: " << line;
                continue;
            }
            EXPECT_EQ(std::stoi(m[1].str()), priority.at(level)) << line;
            seen.insert(std::stoi(m[1].str()));
        }
        return seen;
    }

    void set_last_full_sync(std::string const& when)
    {
        SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
        SQLite::Statement st(db, "UPDATE sync_state SET full_sync_finished_at = ?");
        st.bind(1, when);
        st.exec();
    }
};

} // namespace

TEST_F(OperatorTest, UnderJournaldEveryLineCarriesItsPriority)
{
    start_fake();
    fake->with([](fake::FakeApi& a) {
        a.options().faults.push_back({"/events", fake::Fault::http_500_html, 2});
    });
    extra_env["JOURNAL_STREAM"] = "8:12345";
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("events=<10 types>") != std::string::npos; }, 10s))
        << "the /events retry line names how many types, not each";
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0);
    auto const seen = check_journal_lines(daemon->output());
    EXPECT_TRUE(seen.count(6)) << "info";
    EXPECT_TRUE(seen.count(4)) << "the retried /events request is a warning";

    // --once too, and a rejected key is critical or an error
    auto const once =
        test::run_process({DIRSYNCD_BINARY, "--once", "--db", db_path, "--api-url", fake->url(),
                           "--ca-file", test::cert("ca.pem")},
                          {{"WORKOS_API_KEY", "sk_test_wrong"}, {"JOURNAL_STREAM", "8:12345"}});
    EXPECT_EQ(once.exit_code, 3);
    auto const once_seen = check_journal_lines(once.out);
    EXPECT_TRUE(once_seen.count(2) || once_seen.count(3)) << once.out;
}

TEST_F(OperatorTest, TheNextFullResyncIsDueAfterTheLastOneRecordedNotAfterTheStart)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0);

    // the last full sync was two days ago: a restart must not postpone the resync by a day
    set_last_full_sync("2026-01-01T00:00:00.000Z");
    auto const listings = requests("GET /directory_users");
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    EXPECT_TRUE(eventually([&] { return requests("GET /directory_users") > listings; }, 10s))
        << daemon->output();
    EXPECT_NE(daemon->output().find("next full resync now"), std::string::npos) << daemon->output();
    EXPECT_TRUE(eventually([&] { return notify->got("last finished 2026-"); }, 10s))
        << "STATUS= shows the full sync recorded in sync_state";
    // the whole resync applied (every directory, no run left), before the next stop
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database db(db_path, SQLite::OPEN_READONLY);
            return db.execAndGet("SELECT (SELECT COUNT(*) FROM sync_state WHERE "
                                 "full_sync_finished_at < '2026-02') + (SELECT COUNT(*) FROM "
                                 "full_sync_runs)")
                       .getInt() == 0;
        },
        20s))
        << daemon->output();
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0);

    // just synced: the next start waits for the interval
    auto const after = requests("GET /directory_users");
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    EXPECT_TRUE(eventually([&] { return notify->got("last finished 2026-"); }, 10s))
        << "not \"never\" after a restart";
    std::this_thread::sleep_for(1500ms); // several polls
    EXPECT_EQ(requests("GET /directory_users"), after) << daemon->output();
    EXPECT_NE(daemon->output().find("next full resync in "), std::string::npos) << daemon->output();
}

TEST_F(OperatorTest, CheckConfigTellsWhatIsWrongAndWhatTheKeySees)
{
    start_fake();
    auto const key = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
    auto const good = write_config("");
    auto run = [&](std::vector<std::string> args, std::string const& api_key) {
        args.insert(args.begin(), DIRSYNCD_BINARY);
        return test::run_process(args, {{"WORKOS_API_KEY", api_key}}, 60s);
    };
    auto const offline = run({"check-config", "--config", good}, key);
    EXPECT_EQ(offline.exit_code, 0) << offline.err;
    EXPECT_NE(offline.out.find("OK"), std::string::npos) << offline.out;

    auto const online = run({"--config", good, "--api-url", fake->url(), "--ca-file",
                             test::cert("ca.pem"), "check-config", "--online"},
                            key);
    EXPECT_EQ(online.exit_code, 0) << online.err;
    auto const directories =
        fake->with([](fake::FakeApi& a) { return a.dataset().directories().size(); });
    EXPECT_NE(online.out.find("the API key sees " + std::to_string(directories) + " director"),
              std::string::npos)
        << online.out;

    auto const rejected = run({"--config", good, "--api-url", fake->url(), "--ca-file",
                               test::cert("ca.pem"), "check-config", "--online"},
                              "sk_test_wrong");
    EXPECT_EQ(rejected.exit_code, 3) << rejected.err;

    auto const bad = write_config("max_concurrent_directories = \"four\"\n");
    auto const broken = run({"check-config", "--config", bad}, key);
    EXPECT_EQ(broken.exit_code, 2);
    EXPECT_NE(broken.err.find("line 2: key 'max_concurrent_directories'"), std::string::npos)
        << broken.err;
    EXPECT_EQ(run({"check-config", "--config", good}, "").exit_code, 2) << "no API key";
}

TEST_F(OperatorTest, AnInterruptedSyncResumesInsideTheWindowAndStartsOverPastIt)
{
    start_fake({25, 1, 1200, 30, 2}, true); // paced: the users listing takes seconds
    auto const key = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
    // --once, stopped by SIGTERM once a users page is staged; returns the log
    auto interrupted = [&] {
        test::BackgroundProcess once({DIRSYNCD_BINARY, "--once", "--db", db_path, "--api-url",
                                      fake->url(), "--ca-file", test::cert("ca.pem"), "--log-level",
                                      "debug"},
                                     {{"WORKOS_API_KEY", key}}, dir.file("interrupted.log"));
        EXPECT_TRUE(eventually(
            [&] {
                try {
                    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
                    return db.execAndGet("SELECT COUNT(*) FROM full_sync_runs").getInt() > 0 &&
                           requests("GET /directory_users") >= 3;
                } catch (SQLite::Exception const&) {
                    return false; // not made yet
                }
            },
            20s));
        once.signal(SIGTERM);
        EXPECT_EQ(once.wait(10s), 1) << once.output();
    };
    auto once = [&](std::string const& config) {
        return test::run_process({DIRSYNCD_BINARY, "--once", "--config", write_config(config),
                                  "--db", db_path, "--api-url", fake->url(), "--ca-file",
                                  test::cert("ca.pem")},
                                 {{"WORKOS_API_KEY", key}});
    };

    interrupted();
    auto r = once(""); // within the hour: resumed from its last page
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("resuming the full sync started at"), std::string::npos) << r.out;
    EXPECT_EQ(differences(), std::vector<std::string>{});

    for (char const* suffix : {"", "-wal", "-shm", ".staging", ".staging-wal", ".staging-shm"})
        std::filesystem::remove(db_path + suffix);
    interrupted();
    r = once("resume_window_seconds = 0\n"); // the snapshot is too old: listed again
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("resuming"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("full sync started"), std::string::npos) << r.out;
    EXPECT_EQ(differences(), std::vector<std::string>{});
}
