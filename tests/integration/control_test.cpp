// `dirsyncd resync | evict | allow-deletions | reload` with the real binary, the daemon running
// and not: the work done, only on what was named, the exit status and the one line, and who may
// ask.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <sys/stat.h>

using namespace std::chrono_literals;
using test::eventually;

namespace {

constexpr unsigned nobody = 65534; // nobody:nogroup on Debian

class ControlTest : public test::DaemonFixture {
protected:
    std::string config;

    void SetUp() override
    {
        start_fake({21, 3, 60, 6, 2});
        config = write_config("");
    }

    std::map<std::string, std::string> env()
    {
        return {
            {"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}};
    }

    // The command as an operator types it (with what a daemon-less run needs to reach the API).
    test::ProcessResult command(std::vector<std::string> args)
    {
        std::vector<std::string> argv{DIRSYNCD_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--config", config, "--db", db_path, "--api-url", fake->url(),
                                 "--ca-file", test::cert("ca.pem")});
        return test::run_process(argv, env());
    }

    void start_and_converge()
    {
        start_daemon();
        ASSERT_TRUE(ready());
        ASSERT_TRUE(converged());
    }

    void stop_daemon()
    {
        daemon->signal(SIGTERM);
        ASSERT_EQ(daemon->wait(10s), 0);
    }

    std::vector<std::string> directory_ids()
    {
        return fake->with([](fake::FakeApi& a) {
            std::vector<std::string> ids;
            for (auto const& [id, d] : a.dataset().directories())
                ids.push_back(id);
            return ids;
        });
    }

    // GET /directory_users requests counted against each directory (its listing and its
    // groups' member listings).
    std::map<std::string, std::uint64_t> user_listings()
    {
        return fake->with([](fake::FakeApi& a) { return a.stats().directory_users_by_directory; });
    }

    std::int64_t count(std::string const& sql)
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt64();
    }

    std::int64_t users_of(std::string const& directory)
    {
        return count("SELECT COUNT(*) FROM users WHERE directory_id = '" + directory + "'");
    }

    test::ProcessResult as_reader(std::vector<std::string> args)
    {
        std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", DIRSYNCD_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--config", config, "--db", db_path});
        return test::run_process(argv, {});
    }
};

TEST_F(ControlTest, ResyncListsOnlyTheNamedDirectoryWithAndWithoutADaemon)
{
    start_and_converge();
    auto const ids = directory_ids();
    auto const& a = ids[0];
    for (bool running : {true, false}) {
        SCOPED_TRACE(running ? "daemon running" : "no daemon");
        if (!running)
            stop_daemon();
        auto const before = user_listings();
        auto r = command({"resync", a});
        ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
        EXPECT_NE(r.out.find(running ? "resync: 1 directories" : "no daemon runs"),
                  std::string::npos)
            << r.out;
        auto const after = user_listings();
        EXPECT_GT(after.at(a), before.at(a)) << "the named directory was listed";
        for (auto const& other : {ids[1], ids[2]})
            EXPECT_EQ(after.at(other), before.at(other)) << other << " was not named";
        EXPECT_EQ(differences(), std::vector<std::string>{});
    }
}

TEST_F(ControlTest, ResyncOfEverythingAndOfAnUnknownDirectory)
{
    start_and_converge();
    auto const before = user_listings();
    auto r = command({"resync"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("resync: 3 directories"), std::string::npos) << r.out;
    auto const after = user_listings();
    for (auto const& id : directory_ids())
        EXPECT_GT(after.at(id), before.at(id)) << id;

    r = command({"resync", "directory_nope"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("directory_nope: no such directory"), std::string::npos) << r.err;
    stop_daemon();
    r = command({"resync", "directory_nope"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("directory_nope: no such directory"), std::string::npos) << r.err;
}

TEST_F(ControlTest, NoWaitReturnsOnceTheDaemonHasTheJobAndTheJobIsDone)
{
    start_and_converge();
    auto const a = directory_ids()[0];
    auto const before = user_listings().at(a);
    auto r = command({"resync", "--no-wait", a});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("queued"), std::string::npos) << r.out;
    EXPECT_TRUE(eventually([&] { return user_listings().at(a) > before; }, 10s));
}

TEST_F(ControlTest, EvictDeletesTheDirectorysRowsInChangesAndSyncsItAgain)
{
    start_and_converge();
    auto const a = directory_ids()[0];
    auto const users = users_of(a);
    ASSERT_GT(users, 0);
    for (bool running : {true, false}) {
        SCOPED_TRACE(running ? "daemon running" : "no daemon");
        if (!running)
            stop_daemon();
        auto const seq = count("SELECT COALESCE(MAX(seq), 0) FROM changes");
        auto r = command({"evict", a});
        ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
        auto const since = " AND seq > " + std::to_string(seq);
        EXPECT_EQ(count("SELECT COUNT(*) FROM changes WHERE entity = 'user' AND op = 'delete' "
                        "AND directory_id = '" +
                        a + "'" + since),
                  users);
        EXPECT_EQ(count("SELECT COUNT(*) FROM changes WHERE entity = 'user' AND op = 'upsert' "
                        "AND directory_id = '" +
                        a + "'" + since),
                  users)
            << "synced again from scratch";
        EXPECT_EQ(count("SELECT COUNT(*) FROM changes WHERE directory_id <> '" + a + "'" + since),
                  0)
            << "the other directories are left alone";
        EXPECT_EQ(differences(), std::vector<std::string>{});
    }
}

TEST_F(ControlTest, AHoldIsNotStickyAndAllowDeletionsReleasesItOnAFreshListing)
{
    start_and_converge();
    auto const a = directory_ids()[0];
    auto const users = users_of(a);
    auto held_reason = [&] {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        SQLite::Statement q(db, "SELECT held_reason FROM sync_state WHERE directory_id = ?");
        q.bind(1, a);
        return q.executeStep() && !q.getColumn(0).isNull() ? q.getColumn(0).getString() : "";
    };
    auto glitch = [&](bool on) {
        fake->with([&](fake::FakeApi& api) {
            if (on)
                api.options().empty_user_listings.insert(a);
            else
                api.options().empty_user_listings.clear();
        });
    };
    for (bool running : {true, false}) {
        SCOPED_TRACE(running ? "daemon running" : "no daemon");
        if (!running)
            stop_daemon();
        glitch(true);
        auto r = command({"resync", a});
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.err.find("full sync held"), std::string::npos) << r.err;
        EXPECT_NE(held_reason(), "");
        EXPECT_EQ(users_of(a), users) << "a held sync changes nothing";

        // upstream recovers: the next sync lists again and applies, the hold is gone
        glitch(false);
        r = command({"resync", a});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(held_reason(), "");
        EXPECT_EQ(differences(), std::vector<std::string>{});

        // the operator says the empty listing is right: it applies, once
        glitch(true);
        ASSERT_EQ(command({"resync", a}).exit_code, 1);
        r = command({"allow-deletions", a});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(users_of(a), 0);
        EXPECT_EQ(held_reason(), "");
        glitch(false);
        ASSERT_EQ(command({"resync", a}).exit_code, 0);
        EXPECT_EQ(users_of(a), users);
    }
}

TEST_F(ControlTest, ReloadTellsWhetherTheConfigWasTaken)
{
    start_and_converge();
    auto r = command({"reload"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("configuration reloaded"), std::string::npos) << r.out;
    EXPECT_TRUE(eventually(
        [&] {
            return daemon->output().find("reload: configuration reloaded") != std::string::npos;
        },
        5s));

    write_config("max_delete_fraction = \"lots\"\n");
    r = command({"reload"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("max_delete_fraction"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;

    write_config("");
    stop_daemon();
    r = command({"reload"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("no daemon runs"), std::string::npos) << r.out;
}

TEST_F(ControlTest, AReaderMayNotSteerWithOrWithoutADaemon)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root, to run the command as another user";
    // The reader may pass through the test directory and read the database, nothing more.
    ASSERT_EQ(::chmod(dir.path().c_str(), 0711), 0);
    start_and_converge();
    ASSERT_EQ(::chown(db_path.c_str(), 0, nobody), 0);
    for (bool running : {true, false}) {
        SCOPED_TRACE(running ? "daemon running" : "no daemon");
        if (!running)
            stop_daemon();
        for (auto const& args : std::vector<std::vector<std::string>>{
                 {"resync"}, {"evict", directory_ids()[0]}, {"reload"}}) {
            auto r = as_reader(args);
            EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
            EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
        }
    }
    EXPECT_EQ(differences(), std::vector<std::string>{});
}

} // namespace
