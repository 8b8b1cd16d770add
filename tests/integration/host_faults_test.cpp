// The daemon against trouble on its own host: a full disk (SQLite's size cap, and a real full
// tmpfs), an app holding a lock or a long read transaction, the database file deleted or
// replaced. Each must end with a consistent mirror, the cause in the log, and recovery.
#include "support/daemon_fixture.hpp"
#include "support/files.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using test::eventually;

namespace {

class HostFaultTest : public test::DaemonFixture {
protected:
    std::string mount_point;

    void TearDown() override
    {
        DaemonFixture::TearDown();
        if (!mount_point.empty())
            ::umount2(mount_point.c_str(), MNT_DETACH);
    }

    bool logged(std::string const& needle, std::chrono::milliseconds timeout = 30s)
    {
        return eventually([&] { return daemon->output().find(needle) != std::string::npos; },
                          timeout);
    }
    std::int64_t scalar(std::string const& sql)
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt64();
    }
    // What a reader must always see: an intact file, no membership without both ends.
    void expect_consistent()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
        EXPECT_EQ(test::dangling_memberships(db), 0);
    }
    void add_users(int n)
    {
        auto const dir_id = first_directory();
        mutate([&](fake::Dataset& ds) {
            for (int i = 0; i < n; ++i)
                ds.add_user(dir_id, "Bulk", "User " + std::to_string(i));
        });
    }
    std::int64_t upstream_users()
    {
        return fake->with(
            [](fake::FakeApi& a) { return static_cast<std::int64_t>(a.dataset().users().size()); });
    }
};

} // namespace

TEST_F(HostFaultTest, SizeCapReachedKeepsTheLastConsistentMirrorAndRaisingItWithSighupRecovers)
{
    start_fake({41, 1, 20, 3, 2});
    start_daemon("max_database_bytes = 1048576\n");
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());
    auto const before = scalar("SELECT COUNT(*) FROM users");

    add_users(3000); // about 3 MiB of rows: cannot fit
    ASSERT_TRUE(logged("database or disk is full")) << daemon->output();
    EXPECT_NE(daemon->output().find("max_database_bytes is reached"), std::string::npos);
    EXPECT_TRUE(daemon->running());
    expect_consistent();
    auto const during = scalar("SELECT COUNT(*) FROM users");
    EXPECT_GE(during, before);
    EXPECT_LT(during, upstream_users()); // the page that did not fit was rolled back whole
    EXPECT_EQ((during - before) % 100, 0) << "events are applied a whole page at a time";

    write_config(""); // no cap
    daemon->signal(SIGHUP);
    ASSERT_TRUE(converged(90s)) << ::testing::PrintToString(differences());
    expect_consistent();
}

TEST_F(HostFaultTest, ARealFullDiskIsLoggedAndTheMirrorRecoversWhenSpaceReturns)
{
    mount_point = dir.file("disk");
    std::filesystem::create_directory(mount_point);
    if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=16m") != 0) {
        auto const why = std::strerror(errno);
        mount_point.clear();
        GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): " << why
                     << "; SizeCapReached... covers SQLITE_FULL without it";
    }
    db_path = mount_point + "/mirror.db";
    start_fake({42, 1, 20, 3, 2});
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());
    auto const before = scalar("SELECT COUNT(*) FROM users");

    // Fill the disk to the last byte.
    auto const filler = mount_point + "/filler";
    {
        int const fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        std::string const chunk(4096, 'f');
        while (::write(fd, chunk.data(), chunk.size()) > 0) {
        }
        EXPECT_EQ(errno, ENOSPC);
        ::close(fd);
    }
    add_users(300);
    ASSERT_TRUE(logged("database or disk is full")) << daemon->output();
    EXPECT_TRUE(daemon->running());
    expect_consistent();
    EXPECT_GE(scalar("SELECT COUNT(*) FROM users"), before);

    std::filesystem::remove(filler);
    ASSERT_TRUE(converged(90s)) << ::testing::PrintToString(differences());
    expect_consistent();
}

TEST_F(HostFaultTest, AnAppHoldingTheWriteLockMakesTheDaemonWaitReportAndRetryWithoutLoss)
{
    start_fake({43, 1, 20, 3, 2});
    start_daemon("busy_timeout_seconds = 2\n");
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());

    // Shorter than the busy timeout: the write waits, says so, and goes through.
    // (The app waits its turn for the lock: the daemon may still be writing, say the event
    // stream's first cursor, when the mirror has converged.)
    {
        SQLite::Database app(db_path, SQLite::OPEN_READWRITE);
        app.setBusyTimeout(10000);
        app.exec("BEGIN IMMEDIATE");
        add_users(5);
        ASSERT_TRUE(logged("another process has held a lock", 10s)) << daemon->output();
        app.exec("COMMIT");
    }
    ASSERT_TRUE(converged());
    EXPECT_EQ(daemon->output().find("database is locked"), std::string::npos)
        << "a wait within the busy timeout is not an error";

    // Longer than the busy timeout: the step fails, is logged, and is retried after the lock.
    {
        SQLite::Database app(db_path, SQLite::OPEN_READWRITE);
        app.setBusyTimeout(10000);
        app.exec("BEGIN IMMEDIATE");
        add_users(5);
        ASSERT_TRUE(logged("database is locked", 15s)) << daemon->output();
        EXPECT_NE(daemon->output().find("busy_timeout_seconds"), std::string::npos);
        app.exec("COMMIT");
    }
    ASSERT_TRUE(converged(30s)) << ::testing::PrintToString(differences());
    EXPECT_TRUE(daemon->running());
    expect_consistent();
}

TEST_F(HostFaultTest, ALongReadTransactionSeesOneSnapshotAndDoesNotHoldTheDaemonUp)
{
    start_fake({44, 1, 20, 3, 2});
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());

    SQLite::Database reader(db_path, SQLite::OPEN_READONLY);
    reader.exec("BEGIN");
    auto const seen = reader.execAndGet("SELECT COUNT(*) FROM users").getInt64();
    add_users(150);
    ASSERT_TRUE(converged()) << "the daemon writes while the reader reads";
    EXPECT_EQ(reader.execAndGet("SELECT COUNT(*) FROM users").getInt64(), seen)
        << "the reader's snapshot does not move under it";
    reader.exec("COMMIT");
    EXPECT_EQ(reader.execAndGet("SELECT COUNT(*) FROM users").getInt64(), seen + 150);
    expect_consistent();
}

TEST_F(HostFaultTest, DatabaseReplacedUnderTheDaemonStopsItWithExitFiveAndLeavesTheNewFileAlone)
{
    start_fake({45, 1, 20, 3, 2});
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());

    // What an operator restoring a backup does: a copy of the mirror moved over its path.
    auto const restored = dir.file("restored.db");
    {
        SQLite::Database src(db_path, SQLite::OPEN_READONLY);
        SQLite::Statement vacuum(src, "VACUUM INTO ?");
        vacuum.bind(1, restored);
        vacuum.exec();
    }
    {
        SQLite::Database copy(restored, SQLite::OPEN_READWRITE);
        copy.exec("PRAGMA journal_mode = DELETE; CREATE TABLE restored_marker (x)");
    }
    auto const bytes = test::read_file(restored).value();
    ASSERT_EQ(std::rename(restored.c_str(), db_path.c_str()), 0);
    add_users(20); // work the daemon must not write into the new file's path

    EXPECT_EQ(daemon->wait(10s), 5) << daemon->output();
    EXPECT_NE(daemon->output().find("was replaced by another file"), std::string::npos);
    EXPECT_EQ(test::read_file(db_path), bytes) << "the restored file is untouched";
    EXPECT_FALSE(std::filesystem::exists(db_path + "-wal") &&
                 std::filesystem::file_size(db_path + "-wal") > 0)
        << "no WAL of the old file is left beside the new one";

    // systemd restarts it: the restored mirror is taken up and brought up to date
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged()) << ::testing::PrintToString(differences());
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'restored_marker'"), 1);
}

TEST_F(HostFaultTest, DatabaseDeletedUnderTheDaemonStopsItWithExitFiveAndARestartStartsOver)
{
    start_fake({46, 1, 20, 3, 2});
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());

    ASSERT_TRUE(std::filesystem::exists(db_path + "-wal"));
    std::filesystem::remove(db_path); // the -wal and -shm stay, as after a careless rm
    EXPECT_EQ(daemon->wait(10s), 5) << daemon->output();
    EXPECT_NE(daemon->output().find("was deleted while dirsyncd had it open"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(db_path + "-wal"))
        << "the old file's WAL would be applied to the new file";

    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged()) << ::testing::PrintToString(differences());
    expect_consistent();
}
