// The mirror as the apps see it: a reader of another uid that may only read the files, at every
// moment of the daemon's life; `dirsyncd status`; mirror_status that does not turn the file into
// a heartbeat; an online backup taken while a sync runs.
#include "support/daemon_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;
using test::eventually;
namespace json = boost::json;

namespace {

constexpr unsigned nobody = 65534; // nobody:nogroup on Debian

// Opens the mirror both ways an app would (the read-only URI, and a plain open that SQLite makes
// read-only by itself), reads it, and prints what it read as JSON; any error exits non-zero.
constexpr char const* reader_script = R"py(
import json, sqlite3, sys
path = sys.argv[1]
out = {}
for mode, open_ in (("uri", lambda: sqlite3.connect("file:" + path + "?mode=ro", uri=True,
                                                    timeout=10)),
                    ("plain", lambda: sqlite3.connect(path, timeout=10))):
    c = open_()
    c.execute("PRAGMA busy_timeout = 10000")
    out[mode] = {
        "users": c.execute("SELECT COUNT(*) FROM users").fetchone()[0],
        "dangling": c.execute("SELECT COUNT(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 "
                              "FROM users u WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM "
                              "groups g WHERE g.id = m.group_id)").fetchone()[0],
        "state": c.execute("SELECT state FROM mirror_status WHERE directory_id = '*'").fetchone(),
    }
    c.close()
print(json.dumps(out))
)py";

class ReaderTest : public test::DaemonFixture {
protected:
    std::string shared = dir.file("shared");
    std::string script = dir.file("reader.py");

    void SetUp() override
    {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root, to run the reader as another user";
        // The reader may pass through the test directory and read the shared one, nothing more:
        // the shared directory is setgid nogroup, so the files the daemon makes are in its group.
        ::chmod(dir.path().c_str(), 0711);
        std::filesystem::create_directory(shared);
        ASSERT_EQ(::chown(shared.c_str(), 0, nobody), 0);
        ASSERT_EQ(::chmod(shared.c_str(), 02750), 0);
        db_path = shared + "/mirror.db";
        std::ofstream(script) << reader_script;
        ::chmod(script.c_str(), 0644);
    }

    // Runs `argv` as nobody:nogroup.
    test::ProcessResult as_reader(std::vector<std::string> argv)
    {
        argv.insert(argv.begin(),
                    {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
        return test::run_process(argv, {{"PATH", "/usr/bin:/bin"}}, 60s);
    }

    // The reader's view, checked: it could open and read, and saw no dangling membership.
    std::int64_t read_as_reader(std::string const& moment)
    {
        auto const r = as_reader({"/usr/bin/python3", script, db_path});
        EXPECT_EQ(r.exit_code, 0) << moment << ": " << r.err;
        if (r.exit_code != 0)
            return -1;
        auto const v = json::parse(r.out);
        for (char const* mode : {"uri", "plain"}) {
            auto const& m = v.at(mode);
            EXPECT_EQ(m.at("dangling").as_int64(), 0) << moment << " " << mode;
            EXPECT_EQ(m.at("users").as_int64(), v.at("uri").at("users").as_int64()) << moment;
        }
        return v.at("uri").at("users").as_int64();
    }

    std::int64_t fake_users()
    {
        return fake->with(
            [](fake::FakeApi& a) { return static_cast<std::int64_t>(a.dataset().users().size()); });
    }

    void expect_reader_files()
    {
        for (char const* suffix : {"", "-wal", "-shm"}) {
            struct stat st {};
            auto const path = db_path + suffix;
            ASSERT_EQ(::stat(path.c_str(), &st), 0) << path << " must stay for the readers";
            EXPECT_EQ(st.st_mode & 0777, 0640u) << path;
            EXPECT_EQ(st.st_gid, nobody) << path;
        }
    }
};

} // namespace

TEST_F(ReaderTest, AReaderThatCannotWriteReadsAtEveryMoment)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    expect_reader_files();
    EXPECT_EQ(read_as_reader("while the daemon runs"), fake_users());

    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0);
    expect_reader_files();
    EXPECT_EQ(read_as_reader("after SIGTERM"), fake_users());

    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Once", "Only"); });
    auto const once = test::run_process(
        {DIRSYNCD_BINARY, "--once", "--db", db_path, "--api-url", fake->url(), "--ca-file",
         test::cert("ca.pem")},
        {{"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}});
    ASSERT_EQ(once.exit_code, 0) << once.err;
    expect_reader_files();
    EXPECT_EQ(read_as_reader("after --once"), fake_users());

    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    // events keep landing while the reader reads; then the daemon dies without closing anything
    for (int i = 0; i < 5; ++i)
        mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Crash", std::to_string(i)); });
    ASSERT_TRUE(converged());
    EXPECT_EQ(read_as_reader("before kill -9"), fake_users());
    daemon->signal(SIGKILL);
    daemon->wait(10s);
    EXPECT_EQ(read_as_reader("after kill -9"), fake_users());

    // across the restart: the reader reads while the daemon starts
    start_daemon();
    auto const during = read_as_reader("while the daemon restarts");
    EXPECT_EQ(during, fake_users());
    ASSERT_TRUE(ready()) << daemon->output();
    EXPECT_EQ(read_as_reader("after the restart"), fake_users());

    // and the reader could not have written anything: the directory holds only the daemon's
    for (auto const& entry : std::filesystem::directory_iterator(shared)) {
        struct stat st {};
        ::stat(entry.path().c_str(), &st);
        EXPECT_EQ(st.st_uid, 0u) << entry.path();
    }
}

TEST_F(ReaderTest, StatusTellsWhatTheMirrorHoldsAndHowFresh)
{
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    // the first caught-up poll is written at once
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database db(db_path, SQLite::OPEN_READONLY);
            return !db.execAndGet("SELECT caught_up_at FROM mirror_status WHERE directory_id = "
                                  "'*'")
                        .isNull();
        },
        10s));

    auto const status = as_reader({DIRSYNCD_BINARY, "status", "--json", "--db", db_path});
    ASSERT_EQ(status.exit_code, 0) << status.out << status.err;
    auto const v = json::parse(status.out);
    EXPECT_EQ(v.at("database").as_string(), db_path);
    EXPECT_TRUE(v.at("daemon").at("running").as_bool());
    EXPECT_EQ(v.at("daemon").at("pid").as_int64(), daemon->pid());
    EXPECT_FALSE(v.at("daemon").at("caught_up_at").is_null());
    EXPECT_EQ(v.at("quarantined_events").as_int64(), 0);
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(v.at("changes").at("max_seq").as_int64(),
              db.execAndGet("SELECT MAX(seq) FROM changes").getInt64());
    auto const& dirs = v.at("directories").as_array();
    auto const expected = fake->with([](fake::FakeApi& a) {
        std::map<std::string, std::array<std::int64_t, 3>> counts;
        auto const& ds = a.dataset();
        for (auto const& [id, d] : ds.directories())
            counts[id] = {static_cast<std::int64_t>(ds.users_of_directory(id).size()),
                          static_cast<std::int64_t>(ds.groups_of_directory(id).size()), 0};
        return counts;
    });
    ASSERT_EQ(dirs.size(), expected.size());
    for (auto const& d : dirs) {
        auto const id = std::string(d.at("id").as_string());
        EXPECT_EQ(d.at("state").as_string(), "ok") << id;
        EXPECT_EQ(d.at("users").as_int64(), expected.at(id)[0]) << id;
        EXPECT_EQ(d.at("groups").as_int64(), expected.at(id)[1]) << id;
        EXPECT_GT(d.at("memberships").as_int64(), 0) << id;
        EXPECT_FALSE(d.at("membership_strategy").is_null()) << id;
        EXPECT_FALSE(d.at("last_full_sync_finished_at").is_null()) << id;
        EXPECT_TRUE(d.at("held_reason").is_null()) << id;
        EXPECT_TRUE(d.at("last_error").is_null()) << id;
    }

    auto const text = as_reader({DIRSYNCD_BINARY, "--db", db_path, "status"});
    EXPECT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("running, pid " + std::to_string(daemon->pid())), std::string::npos)
        << text.out;

    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0);
    auto const stopped = as_reader({DIRSYNCD_BINARY, "status", "--db", db_path, "--json"});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_FALSE(json::parse(stopped.out).at("daemon").at("running").as_bool());
    EXPECT_TRUE(
        db.execAndGet("SELECT daemon_pid FROM mirror_status WHERE directory_id = '*'").isNull());

    auto const missing = as_reader({DIRSYNCD_BINARY, "status", "--db", shared + "/none.db"});
    EXPECT_EQ(missing.exit_code, 5);
    EXPECT_NE(missing.err.find("cannot read the database"), std::string::npos) << missing.err;
    EXPECT_FALSE(std::filesystem::exists(shared + "/none.db"));
}

TEST_F(ReaderTest, AnIdleDaemonDoesNotTurnTheFileIntoAHeartbeat)
{
    start_fake();
    start_daemon("status_heartbeat_seconds = 3600\n");
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    auto const caught_up = [&] {
        return db
            .execAndGet("SELECT COALESCE(caught_up_at, '') FROM mirror_status WHERE "
                        "directory_id = '*'")
            .getString();
    };
    ASSERT_TRUE(eventually([&] { return !caught_up().empty(); }, 10s));
    auto const first = caught_up();
    auto const version = db.execAndGet("PRAGMA data_version").getInt64();
    std::this_thread::sleep_for(2s); // ten idle polls
    EXPECT_EQ(db.execAndGet("PRAGMA data_version").getInt64(), version)
        << "idle polls wrote to the file";
    EXPECT_EQ(caught_up(), first);
    // caught_up_at is now ten poll intervals old, yet well within one heartbeat: not stale
    auto const idle = as_reader({DIRSYNCD_BINARY, "status", "--db", db_path});
    EXPECT_EQ(idle.exit_code, 0) << idle.out << idle.err;
    EXPECT_EQ(idle.out.find("STALE"), std::string::npos) << idle.out;

    auto const max_seq = [&] {
        return db.execAndGet("SELECT max_seq FROM mirror_status WHERE directory_id = '*'")
            .getInt64();
    };
    auto const seq_before = max_seq();
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Wakes", "Readers"); });
    ASSERT_TRUE(converged());
    ASSERT_TRUE(eventually([&] { return caught_up() != first; }, 5s))
        << "a poll that changed data writes caught_up_at with it";
    EXPECT_GT(max_seq(), seq_before);
    SQLite::Statement q(db, "SELECT last_event_at FROM mirror_status WHERE directory_id = ?");
    q.bind(1, dir_id);
    ASSERT_TRUE(q.executeStep());
    EXPECT_FALSE(q.getColumn(0).isNull());
}

TEST_F(ReaderTest, AnOnlineBackupTakenDuringASyncIsConsistent)
{
    start_fake({5, 3, 600, 30, 3});
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    auto const dir_id = first_directory();
    // a full resync (SIGHUP) and a stream of events while the copies are taken
    daemon->signal(SIGHUP);
    for (int i = 0; i < 3; ++i) {
        mutate([&](fake::Dataset& ds) {
            for (int j = 0; j < 20; ++j)
                ds.add_user(dir_id, "Backup", std::to_string(i * 100 + j));
        });
        auto const copy = shared + "/copy" + std::to_string(i) + ".db";
        {
            SQLite::Database db("file:" + db_path + "?mode=ro",
                                SQLite::OPEN_READONLY | SQLite::OPEN_URI, 10000);
            db.exec("VACUUM INTO '" + copy + "'");
        }
        SQLite::Database c(copy, SQLite::OPEN_READONLY);
        EXPECT_EQ(c.execAndGet("PRAGMA integrity_check").getString(), "ok");
        EXPECT_EQ(test::dangling_memberships(c), 0);
        EXPECT_GT(c.execAndGet("SELECT COUNT(*) FROM users").getInt64(), 0);
        EXPECT_EQ(c.execAndGet("SELECT COUNT(*) FROM users").getInt64(),
                  c.execAndGet("SELECT COUNT(DISTINCT id) FROM users").getInt64());
        EXPECT_EQ(
            c.execAndGet("SELECT COUNT(*) FROM mirror_status WHERE directory_id = '*'").getInt(),
            1);
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(converged());
}
