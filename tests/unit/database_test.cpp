#include "store/database.hpp"
#include "support/temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

using namespace dirsync::store;

TEST(Database, MigratesAFreshDatabaseToTheLatestVersion)
{
    auto db = open_database(":memory:");
    EXPECT_EQ(db->execAndGet("PRAGMA user_version").getInt(), latest_schema_version());
    for (auto const* table :
         {"directories", "users", "groups", "memberships", "changes", "sync_state"})
        EXPECT_TRUE(db->tableExists(table)) << table;
}

TEST(Database, UsesWalAndCreatesTheFileOwnerWriteGroupReadWhateverTheUmask)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    auto const old_mask = ::umask(0);
    auto db = open_database(path);
    ::umask(old_mask);
    EXPECT_EQ(db->execAndGet("PRAGMA journal_mode").getString(), "wal");
    db->exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
             "VALUES ('t', 'd', 'user', 'u', 'upsert')"); // makes the -wal file
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    ASSERT_EQ(::stat((path + "-wal").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(Database, ReopeningKeepsDataAndDoesNotMigrateAgain)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    {
        auto db = open_database(path);
        db->exec("INSERT INTO sync_state (directory_id) VALUES ('directory_1')");
    }
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("SELECT COUNT(*) FROM sync_state").getInt(), 1);
}

TEST(Database, RefusesADatabaseFromANewerSchema)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    open_database(path)->exec("PRAGMA user_version = 999");
    try {
        open_database(path);
        FAIL() << "expected StoreError";
    } catch (StoreError const& e) {
        EXPECT_NE(std::string(e.what()).find("schema version 999, newer"), std::string::npos)
            << e.what();
    }
}

TEST(Database, RefusesAFileThatIsNotSqlite)
{
    test::TempDir dir;
    auto const path = dir.file("notes.txt");
    std::ofstream(path) << "this is not a database, just some text that is long enough to "
                           "fill a header of one hundred bytes or so, and then some more.\n";
    try {
        open_database(path);
        FAIL() << "expected StoreError";
    } catch (StoreError const& e) {
        EXPECT_NE(std::string(e.what()).find("is not a SQLite database"), std::string::npos)
            << e.what();
    }
}

TEST(Database, ReportsAPathThatCannotBeCreated)
{
    EXPECT_THROW(open_database("/nonexistent-dir/sub/mirror.db"), StoreError);
}
