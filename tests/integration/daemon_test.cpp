// The real dirsyncd binary in daemon mode against the fake WorkOS server over real TLS: events,
// restarts, signals, systemd notifications, and a reader that must only ever see progress.
#include "support/daemon_fixture.hpp"
#include "support/files.hpp"
#include "support/mirror_compare.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <random>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using test::eventually;

namespace {

class DaemonTest : public test::DaemonFixture {};

} // namespace

TEST_F(DaemonTest, FirstStartSyncsThenReportsReadyAndFollowsEveryKindOfEvent)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    EXPECT_TRUE(notify->got("STATUS="));
    auto const dir_id = first_directory();
    auto const users_before = requests("GET /directory_users");

    std::string user, group, other;
    mutate([&](fake::Dataset& ds) {
        user = ds.add_user(dir_id, "Eve", "Event");
        group = ds.add_group(dir_id, "Created By Event");
        ds.add_member(user, group);
    });
    ASSERT_TRUE(converged()) << "create user, group, membership";
    mutate([&](fake::Dataset& ds) {
        ds.update_user(user, "Evelyn", std::string("inactive"));
        ds.update_group(group, "Renamed By Event");
    });
    ASSERT_TRUE(converged()) << "updates";
    mutate([&](fake::Dataset& ds) { ds.remove_member(user, group); });
    ASSERT_TRUE(converged()) << "membership removed";
    mutate([&](fake::Dataset& ds) {
        other = *ds.users_of_directory(dir_id).begin();
        ds.add_member(other, group);
        ds.delete_group(group);
        ds.delete_user(user);
    });
    ASSERT_TRUE(converged()) << "deletes";
    // none of that needed a full listing
    EXPECT_EQ(requests("GET /directory_users"), users_before);

    std::string added;
    mutate([&](fake::Dataset& ds) {
        added = ds.add_directory("Activated Later");
        auto const u = ds.add_user(added, "New", "Directory");
        auto const g = ds.add_group(added, "Newcomers");
        ds.add_member(u, g);
    });
    ASSERT_TRUE(converged()) << "dsync.activated syncs the new directory";
    mutate([&](fake::Dataset& ds) { ds.delete_directory(dir_id); });
    ASSERT_TRUE(converged()) << "dsync.deleted";

    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(test::dangling_memberships(db), 0);
    EXPECT_GT(db.execAndGet("SELECT COUNT(*) FROM changes WHERE entity = 'directory' AND "
                            "op = 'delete'")
                  .getInt(),
              0);
    struct stat st {};
    ASSERT_EQ(::stat(db_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(DaemonTest, DuplicateAndOutOfOrderEventsConverge)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready());
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) {
        ds.duplicate_events = true;
        ds.swap_event_order = true; // user_added arrives before user.created
        auto const g = ds.add_group(dir_id, "Out Of Order");
        auto const u = ds.add_user(dir_id, "Ord", "Er");
        ds.add_member(u, g);
        ds.update_user(u, "Ordered");
        ds.delete_user(*ds.users_of_directory(dir_id).begin());
    });
    ASSERT_TRUE(converged()) << ::testing::PrintToString(differences());
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(test::dangling_memberships(db), 0);
}

TEST_F(DaemonTest, RestartResumesFromTheCursorWithoutAFullSync)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready());
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Before", "Restart"); });
    ASSERT_TRUE(converged());
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(5s), 0);

    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "While", "Stopped"); });
    auto const listings = requests("GET /directory_users");
    start_daemon();
    ASSERT_TRUE(ready()) << "a complete mirror exists: READY at once";
    ASSERT_TRUE(converged());
    EXPECT_EQ(requests("GET /directory_users"), listings) << "no full sync after a restart";
    EXPECT_NE(daemon->output().find("following events from cursor"), std::string::npos);
}

TEST_F(DaemonTest, ExpiredCursorTriggersAFullResyncAndTheStreamRestarts)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready());
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Has", "Cursor"); });
    ASSERT_TRUE(converged());
    auto const listings = requests("GET /directory_users");
    fake->with([](fake::FakeApi& a) { a.options().event_retention = 1ms; });
    ASSERT_TRUE(eventually([&] { return requests("GET /directory_users") > listings; }, 20s));
    fake->with([](fake::FakeApi& a) { a.options().event_retention = std::chrono::hours(24); });
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Resync"); });
    ASSERT_TRUE(converged());
    EXPECT_NE(daemon->output().find("rejected the cursor"), std::string::npos);
}

TEST_F(DaemonTest, SighupRunsOneFullResyncAndSigusr1LogsStatus)
{
    start_fake({22, 2, 400, 20, 2}, true); // paced: the resync takes a few seconds
    start_daemon();
    ASSERT_TRUE(ready());
    auto const listings = requests("GET /directory_users");
    daemon->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return requests("GET /directory_users") > listings; }, 10s));
    daemon->signal(SIGHUP); // during the resync: not a second one
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("already running") != std::string::npos; }, 10s));
    EXPECT_TRUE(notify->got("RELOADING=1"));
    daemon->signal(SIGUSR1);
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("status: directory") != std::string::npos; }, 10s));
    ASSERT_TRUE(converged(30s));
}

TEST_F(DaemonTest, SigtermDuringAFullSyncExitsZeroWithinFiveSecondsLeavingAConsistentMirror)
{
    start_fake({23, 3, 3000, 60, 2}, true); // paced: a long first sync
    extra_env["WATCHDOG_USEC"] = "2000000";
    start_daemon();
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("full sync started") != std::string::npos; }, 10s));
    std::this_thread::sleep_for(1500ms);
    auto const t0 = std::chrono::steady_clock::now();
    daemon->signal(SIGTERM);
    auto const code = daemon->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running 5 s after SIGTERM";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_TRUE(notify->got("STOPPING=1"));
    EXPECT_TRUE(notify->got("EXTEND_TIMEOUT_USEC=")) << "a long first sync extends the timeout";
    EXPECT_TRUE(notify->got("WATCHDOG=1"))
        << "the working loop pings the watchdog: " << ::testing::PrintToString(notify->messages());
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
    EXPECT_EQ(test::dangling_memberships(db), 0);
    EXPECT_FALSE(notify->got("READY=1")) << "the mirror was never complete";
}

TEST_F(DaemonTest, ASecondInstanceOnTheSameDatabaseRefusesToStart)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready());
    auto r = test::run_process({DIRSYNCD_BINARY, "--db", db_path, "--api-url", fake->url(),
                                "--ca-file", test::cert("ca.pem")},
                               {{"WORKOS_API_KEY", "sk_test_whatever"}});
    EXPECT_EQ(r.exit_code, 6);
    EXPECT_NE(r.err.find("another dirsyncd is already writing"), std::string::npos) << r.err;
}

TEST_F(DaemonTest, MutationsDuringAFullSyncConvergeAndAReaderOnlyEverSeesProgress)
{
    start_fake({24, 2, 600, 30, 3}, true); // paced: the first sync takes several seconds
    auto const dir_id = first_directory();

    // The reader: no dangling membership ever; no row ever goes back to an older version; a
    // row deleted by an event never reappears.
    std::atomic<bool> stop{false};
    std::atomic<int> violations{0};
    std::atomic<int> reads{0};
    std::string first_violation;
    std::thread reader;
    struct JoinOnExit { // an ASSERT returning early must not leave the thread joinable
        std::atomic<bool>& stop;
        std::thread& t;
        ~JoinOnExit()
        {
            stop = true;
            if (t.joinable())
                t.join();
        }
    } join_on_exit{stop, reader};
    reader = std::thread([&] {
        std::map<std::string, std::int64_t> seen;
        while (!stop) {
            try {
                SQLite::Database db(db_path, SQLite::OPEN_READONLY);
                SQLite::Transaction snapshot(db); // one consistent snapshot per round
                if (test::dangling_memberships(db) != 0) {
                    if (violations++ == 0)
                        first_violation = "dangling membership";
                }
                SQLite::Statement q(db, "SELECT id, updated_at_us FROM users UNION ALL "
                                        "SELECT id, updated_at_us FROM groups");
                while (q.executeStep()) {
                    auto const id = q.getColumn(0).getString();
                    auto const v = q.getColumn(1).getInt64();
                    auto [it, fresh] = seen.emplace(id, v);
                    if (!fresh && v < it->second && violations++ == 0)
                        first_violation = "row went back: " + id;
                    it->second = std::max(it->second, v);
                }
                ++reads;
            } catch (SQLite::Exception const&) {
                // the database does not exist yet
            }
            std::this_thread::sleep_for(20ms);
        }
    });

    start_daemon("full_resync_interval_seconds = 60\n");
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("full sync started") != std::string::npos; }, 10s));
    // Change things while the first sync is listing.
    for (int i = 0; i < 5; ++i) {
        mutate([&](fake::Dataset& ds) {
            auto const& users = ds.users_of_directory(dir_id);
            auto const victim = *std::next(users.begin(), i);
            ds.update_user(*std::next(users.begin(), 10 + i), "Changed" + std::to_string(i));
            ds.delete_user(victim);
            auto const u = ds.add_user(dir_id, "During", std::to_string(i));
            ds.add_member(u, *ds.groups_of_directory(dir_id).begin());
        });
        std::this_thread::sleep_for(300ms);
    }
    ASSERT_TRUE(ready());
    // And again during a resync.
    daemon->signal(SIGHUP);
    for (int i = 0; i < 3; ++i) {
        mutate([&](fake::Dataset& ds) {
            auto const& groups = ds.groups_of_directory(dir_id);
            ds.remove_member(*ds.members_of_group(*groups.begin()).begin(), *groups.begin());
            ds.update_group(*std::next(groups.begin()), "Moved " + std::to_string(i));
        });
        std::this_thread::sleep_for(300ms);
    }
    EXPECT_TRUE(converged(60s)) << ::testing::PrintToString(differences());
    stop = true;
    reader.join();
    EXPECT_GT(reads.load(), 10);
    EXPECT_EQ(violations.load(), 0) << first_violation;
}

TEST(SystemdUnit, SystemdAnalyzeVerifyAcceptsTheUnit)
{
    if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "systemd-analyze is not installed";
    test::TempDir dir;
    auto unit =
        test::read_file(std::string(DIRSYNC_SOURCE_DIR) + "/systemd/dirsyncd.service.in").value();
    // Filled in as `cmake --install` does; verify wants the binaries of ExecStart and
    // ExecReload to exist: the one we built.
    auto fill = [&](std::string const& placeholder, std::string const& value) {
        ASSERT_NE(unit.find(placeholder), std::string::npos) << placeholder;
        for (auto pos = unit.find(placeholder); pos != std::string::npos;
             pos = unit.find(placeholder))
            unit.replace(pos, placeholder.size(), value);
    };
    fill("@DIRSYNCD_BINDIR@/dirsyncd", DIRSYNCD_BINARY);
    fill("@DIRSYNCD_DOCDIR@", "/usr/share/doc/dirsyncd");
    auto const exec_start = unit.substr(unit.find("\nExecStart="));
    EXPECT_EQ(exec_start.substr(0, exec_start.find('\n', 1)).find("--db"), std::string::npos)
        << "the config says where the database is";
    auto const path = dir.file("dirsyncd.service");
    std::ofstream(path) << unit;
    auto r = test::run_process({"/usr/bin/systemd-analyze", "verify", "--man=no", path},
                               {{"PATH", "/usr/bin:/bin"}});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.err, "") << r.err;
}

TEST_F(DaemonTest, KilledAtRandomMomentsFiftyTimesTheMirrorStaysConsistentAndConverges)
{
    start_fake({25, 2, 1500, 40, 2}, true); // paced: kills land inside the full sync
    auto const dir_id = first_directory();
    std::mt19937 rng(25);
    std::uniform_int_distribution<int> wait_ms(50, 900);
    int kills = 0;
    for (int round = 0; round < 50; ++round) {
        // Changes upstream between runs, so that kills also land in event application.
        mutate([&](fake::Dataset& ds) {
            auto const& users = ds.users_of_directory(dir_id);
            ds.update_user(*std::next(users.begin(), round % 40), "Kill" + std::to_string(round));
            if (round % 5 == 0)
                ds.add_member(ds.add_user(dir_id, "K", std::to_string(round)),
                              *ds.groups_of_directory(dir_id).begin());
        });
        start_daemon();
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms(rng)));
        daemon->signal(SIGKILL);
        daemon->wait(5s);
        ++kills;
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        // The first reader after a kill may meet the WAL index while it is recovered from the
        // killed writer's WAL ("database is locked", seen once on a loaded machine): it waits its
        // turn, as an app with a busy timeout does.
        db.setBusyTimeout(10000);
        ASSERT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok") << "round " << round;
        ASSERT_EQ(test::dangling_memberships(db), 0) << "round " << round;
    }
    EXPECT_EQ(kills, 50);
    start_daemon();
    EXPECT_TRUE(converged(120s)) << ::testing::PrintToString(differences());
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
    // every user row has exactly one creating change: nothing recorded twice across the kills
    EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM users u WHERE (SELECT COUNT(*) FROM changes c "
                            "WHERE c.entity = 'user' AND c.entity_id = u.id AND c.op = 'upsert') "
                            "= 0")
                  .getInt(),
              0);
}
