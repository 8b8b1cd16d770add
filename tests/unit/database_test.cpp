#include "store/database.hpp"
#include "store/staging_file.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sqlite3.h>
#include <sys/stat.h>
#include <thread>

using namespace dirsync::store;

namespace {

// Makes `db` a mirror of schema `version` as an older dirsyncd left it: the shipped migrations
// schema/001_*.sql up to NNN = `version`, applied in order.
void apply_shipped_schema(SQLite::Database& db, int version)
{
    std::vector<std::filesystem::path> files;
    for (auto const& e :
         std::filesystem::directory_iterator(std::string(DIRSYNC_SOURCE_DIR) + "/schema"))
        if (e.path().extension() == ".sql" && std::stoi(e.path().filename().string()) <= version)
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    ASSERT_EQ(files.size(), static_cast<std::size_t>(version));
    for (auto const& f : files)
        db.exec(test::read_file(f.string()).value());
    db.exec(fmt::format("PRAGMA user_version = {}", version));
}

} // namespace

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

TEST(Database, RefusesASqliteDatabaseOfAnotherApplicationAndLeavesItAlone)
{
    test::TempDir dir;
    auto const path = dir.file("app.db");
    {
        SQLite::Database other(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        other.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
    }
    try {
        open_database(path);
        FAIL() << "expected a StoreError";
    } catch (StoreError const& e) {
        EXPECT_NE(std::string(e.what()).find("a SQLite database of another application"),
                  std::string::npos)
            << e.what();
    }
    SQLite::Database other(path, SQLite::OPEN_READONLY);
    EXPECT_FALSE(other.tableExists("users"));
    EXPECT_EQ(other.execAndGet("PRAGMA user_version").getInt(), 0);
    EXPECT_EQ(other.execAndGet("PRAGMA journal_mode").getString(), "delete") << "not even WAL";
}

TEST(Database, SizeCapFailsWritesWithSqliteFullAndCanBeLifted)
{
    test::TempDir dir;
    auto db = open_database(dir.file("mirror.db"), {std::chrono::seconds(1), 1 << 20});
    SQLite::Statement insert(*db, "INSERT INTO changes (changed_at, directory_id, entity, "
                                  "entity_id, op) VALUES ('t', 'd', 'user', ?, 'upsert')");
    auto const fill = [&] {
        for (int i = 0; i < 20000; ++i) {
            insert.bind(1, std::string(200, 'x') + std::to_string(i));
            insert.exec();
            insert.reset();
        }
    };
    try {
        fill();
        FAIL() << "expected SQLITE_FULL";
    } catch (SQLite::Exception const& e) {
        EXPECT_EQ(e.getErrorCode(), SQLITE_FULL);
        EXPECT_NE(describe_database_error(e).find("max_database_bytes is reached"),
                  std::string::npos);
    }
    EXPECT_EQ(db->execAndGet("PRAGMA integrity_check").getString(), "ok");
    insert.tryReset(); // returns the failed step's code, which reset() would throw again
    limit_database_size(*db, std::nullopt);
    EXPECT_NO_THROW(fill());
}

TEST(Database, AWriteWaitsForAnotherProcesssLockReportsItAndGivesUpAtTheBusyTimeout)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    std::vector<std::chrono::milliseconds> reports;
    auto db = open_database(path, {std::chrono::milliseconds(1500), std::nullopt,
                                   [&](auto waited, auto) { reports.push_back(waited); }});

    SQLite::Database app(path, SQLite::OPEN_READWRITE);
    app.exec("BEGIN IMMEDIATE");
    auto const started = std::chrono::steady_clock::now();
    try {
        db->exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                 "VALUES ('t', 'd', 'user', 'u', 'upsert')");
        FAIL() << "expected SQLITE_BUSY";
    } catch (SQLite::Exception const& e) {
        EXPECT_EQ(e.getErrorCode(), SQLITE_BUSY);
        EXPECT_NE(describe_database_error(e).find("busy_timeout_seconds"), std::string::npos);
    }
    auto const waited = std::chrono::steady_clock::now() - started;
    EXPECT_GE(waited, std::chrono::milliseconds(1400));
    ASSERT_EQ(reports.size(), 1u); // once per wait
    EXPECT_GE(reports[0], std::chrono::seconds(1));

    // released in time: the write goes through
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        app.exec("COMMIT");
    });
    EXPECT_NO_THROW(db->exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, "
                             "op) VALUES ('t', 'd', 'user', 'u', 'upsert')"));
    release.join();
}

TEST(Database, AnUpgradeFromSchemaThreeKeepsEveryRowAndReturnsTheStagingSpace)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    {
        // a mirror as dirsyncd 0.1 left it: schema 3, rows in every table, staging inside
        SQLite::Database old(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        old.exec("PRAGMA journal_mode = WAL");
        apply_shipped_schema(old, 3);
        old.exec(R"(INSERT INTO users (id, directory_id, organization_id, idp_id, email,
            first_name, last_name, state, role, custom_attributes, raw_attributes, created_at,
            updated_at, raw_json, updated_at_us) VALUES ('u1', 'd1', 'o1', 'i1', 'a@b', 'Ana',
            'Ruiz', 'active', 'admin', '{"dept":"x"}', '{"k":1}', '2026-01-01T00:00:00Z',
            '2026-01-02T00:00:00Z', '{"id":"u1","custom_attributes":{"dept":"x"},"raw_attributes":
            {"k":1},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}', 7))");
        old.exec(R"(INSERT INTO groups (id, directory_id, organization_id, idp_id, name,
            raw_attributes, created_at, updated_at, raw_json, updated_at_us) VALUES ('g1', 'd1',
            'o1', 'ig', 'SRE', NULL, 't0', 't1', '{"id":"g1","created_at":"t0","updated_at":"t1"}',
            1))");
        old.exec("INSERT INTO memberships VALUES ('u1', 'g1', 'd1')");
        // what a big staging run left behind
        old.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                 "INSERT INTO staged_users (id, directory_id, raw_json) SELECT 'x' || i, 'd1', "
                 "printf('%.2000c', 'x') FROM n");
    }
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("PRAGMA user_version").getInt(), latest_schema_version());
    EXPECT_EQ(db->execAndGet("SELECT first_name || ' ' || last_name || ' ' || state || ' ' || "
                             "role || ' ' || email || ' ' || custom_attributes || ' ' || "
                             "raw_attributes || ' ' || updated_at FROM users")
                  .getString(),
              R"(Ana Ruiz active admin a@b {"dept":"x"} {"k":1} 2026-01-02T00:00:00Z)");
    EXPECT_EQ(db->execAndGet("SELECT name || created_at FROM groups").getString(), "SREt0");
    EXPECT_EQ(db->execAndGet("SELECT COUNT(*) FROM memberships").getInt(), 1);
    EXPECT_FALSE(db->tableExists("staged_users"));
    EXPECT_EQ(db->execAndGet("PRAGMA freelist_count").getInt(), 0) << "compacted once";
    EXPECT_EQ(db->execAndGet("PRAGMA auto_vacuum").getInt(), 2) << "incremental from now on";
    EXPECT_EQ(db->execAndGet("PRAGMA journal_mode").getString(), "wal");
    EXPECT_EQ(db->execAndGet("PRAGMA integrity_check").getString(), "ok");
    ASSERT_EQ(db->notes.size(), 1u);
    EXPECT_NE(db->notes[0].find("compacted once"), std::string::npos);
}

TEST(Database, AnUpgradeFromSchemaFiveKeepsTheChangesFeedAndItsNextSeq)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    {
        SQLite::Database old(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        old.exec("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL");
        apply_shipped_schema(old, 5);
        old.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
                 "INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT "
                 "'2026-01-01T00:00:00Z', 'd1', 'user', 'u' || i, 'upsert' FROM n");
        old.exec("DELETE FROM changes WHERE seq <= 10 OR seq > 40"); // pruned, and the newest gone
    }
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("PRAGMA user_version").getInt(), latest_schema_version());
    EXPECT_EQ(db->migrated_from, 5);
    EXPECT_EQ(db->execAndGet("SELECT COUNT(*) || ' ' || MIN(seq) || ' ' || MAX(seq) || ' ' || "
                             "MIN(entity_id) FROM changes")
                  .getString(),
              "30 11 40 u11");
    EXPECT_EQ(db->execAndGet("SELECT min_seq || ' ' || max_seq FROM mirror_status WHERE "
                             "directory_id = '*'")
                  .getString(),
              "11 50");
    db->exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) VALUES "
             "('t', 'd1', 'group', 'g1', 'delete')");
    EXPECT_EQ(db->execAndGet("SELECT MAX(seq) FROM changes").getInt(), 51) << "never reused";
    EXPECT_THROW(db->exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                          "VALUES ('t', 'd1', 'person', 'p1', 'upsert')"),
                 SQLite::Exception);
    EXPECT_EQ(db->execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST(Database, ANewMirrorHasIncrementalVacuumAndAPrivateStagingFile)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("PRAGMA auto_vacuum").getInt(), 2);
    struct stat st {};
    ASSERT_EQ(::stat((path + ".staging").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "readers never need the staging file";
    EXPECT_EQ(db->execAndGet("PRAGMA staging.journal_mode").getString(), "wal");
}

TEST(Database, TheEmptiedStagingFileIsGivenBackOnceTheConnectionIsIdle)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("PRAGMA staging.page_size").getInt(), 2048);
    EXPECT_EQ(db->execAndGet("PRAGMA staging.auto_vacuum").getInt(), 0);
    db->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
             "INSERT INTO staging.staged_users (id, directory_id, state, raw_json, updated_at_us) "
             "SELECT 'u' || i, 'd1', 'active', printf('%.900c', 'x'), 0 FROM n");
    auto const full = db->execAndGet("PRAGMA staging.page_count").getInt64();
    db->exec("DELETE FROM staging.staged_users");
    ASSERT_GT(db->execAndGet("PRAGMA staging.freelist_count").getInt64(), full / 2);

    {
        SQLite::Statement open_statement(*db, "SELECT id FROM directories UNION ALL SELECT 1");
        ASSERT_TRUE(open_statement.executeStep());
        reclaim_free_pages(*db); // VACUUM cannot run now: left for the next call
        EXPECT_GT(db->execAndGet("PRAGMA staging.freelist_count").getInt64(), full / 2);
    }
    reclaim_free_pages(*db);
    EXPECT_EQ(db->execAndGet("PRAGMA staging.freelist_count").getInt64(), 0);
    EXPECT_LT(db->execAndGet("PRAGMA staging.page_count").getInt64(), 20) << "from " << full;
}

// Debian's SQLite zeroes and writes again every page a delete frees (SECURE_DELETE): the mirror
// keeps zeroing deleted rows in their pages (FAST), the private staging file does not zero.
TEST(Database, ClearingATableDoesNotWriteItsFreedPagesAgain)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    auto db = open_database(path);
    EXPECT_EQ(db->execAndGet("PRAGMA main.secure_delete").getInt(), 2); // FAST
    EXPECT_EQ(db->execAndGet("PRAGMA staging.secure_delete").getInt(), 0);
    db->exec("CREATE TABLE filler (x BLOB)");
    db->exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
             "800) INSERT INTO filler SELECT randomblob(4000) FROM n; COMMIT");
    db->exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
             "1600) INSERT INTO staging.staged_users (id, directory_id, state, raw_json, "
             "updated_at_us) SELECT 'u' || i, 'd1', 'active', printf('%.1800c', 'x'), 0 FROM n; "
             "COMMIT");
    // Empty both WAL files (the background checkpointer may hold one for a moment).
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (auto const& [schema, wal] :
         {std::pair{"main", path + "-wal"}, std::pair{"staging", staging_path(path) + "-wal"}}) {
        while (std::filesystem::file_size(wal) > 0 && std::chrono::steady_clock::now() < deadline) {
            db->exec(fmt::format("PRAGMA {}.wal_checkpoint(TRUNCATE)", schema));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_EQ(std::filesystem::file_size(wal), 0u) << schema;
    }

    db->exec("DELETE FROM filler");
    db->exec("DELETE FROM staging.staged_users");
    // A few pages (the free list's trunk, the header, the index), not the 800 and 1,600 freed.
    EXPECT_LT(std::filesystem::file_size(path + "-wal"), 40u * 4096);
    EXPECT_LT(std::filesystem::file_size(staging_path(path) + "-wal"), 40u * 2048);
}

TEST(Database, TheWalIsCheckpointedInTheBackground)
{
    test::TempDir dir;
    auto const path = dir.file("mirror.db");
    auto db = open_database(path);
    auto const size_before = std::filesystem::file_size(path);
    // About 1,500 pages in one commit: over the threshold of 1,000 frames.
    db->exec("CREATE TABLE filler (x BLOB)");
    db->exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
             "1500) INSERT INTO filler SELECT randomblob(4000) FROM n; COMMIT");
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (db->background_checkpoints() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(db->background_checkpoints(), 1);
    // Only a checkpoint writes the database file in WAL mode: the rows are in it now.
    EXPECT_GT(std::filesystem::file_size(path), size_before + 1500 * 4000);
}
