// The PostgreSQL mirror's schema: created at the SQLite mirror's version with the same contract
// tables and columns, migrated once when several daemons start together, and never applied over
// a schema that is not dirsyncd's or is newer than this build.
#include "pg/schema.hpp"
#include "pg_server.hpp"
#include "store/database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <vector>

using namespace dirsync;

namespace {

using Columns = std::map<std::string, std::vector<std::string>>;

// The contract: what apps read (README.md). Internal tables may differ between the backends.
std::set<std::string> const contract = {"directories",   "users",        "groups",
                                        "memberships",   "changes",      "sync_state",
                                        "daemon_status", "mirror_status"};

Columns sqlite_contract_columns()
{
    auto db = store::open_database(":memory:");
    Columns out;
    for (auto const& name : contract) {
        SQLite::Statement q(*db, "SELECT name FROM pragma_table_xinfo(?) ORDER BY cid");
        q.bind(1, name);
        while (q.executeStep())
            out[name].push_back(q.getColumn(0).getString());
    }
    return out;
}

Columns pg_contract_columns(pg::Connection& db, std::string const& schema)
{
    Columns out;
    auto const r = db.exec("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
                           {schema});
    for (int i = 0; i < r.rows(); ++i)
        if (contract.count(r.text(i, 0)))
            out[r.text(i, 0)].push_back(r.text(i, 1));
    return out;
}

class PgSchema : public test::PgSchemaTest {};

} // namespace

TEST_F(PgSchema, IsCreatedAtTheSqliteVersionWithTheSameContractTablesAndColumns)
{
    pg::Connection db(test::pg_conninfo());
    auto const m = pg::migrate_schema(db, schema);
    EXPECT_FALSE(m.from.has_value());
    EXPECT_EQ(m.to, store::latest_schema_version());
    EXPECT_EQ(pg::latest_schema_version(), store::latest_schema_version());
    auto const sqlite = sqlite_contract_columns();
    auto const postgres = pg_contract_columns(db, schema);
    ASSERT_EQ(sqlite.size(), contract.size());
    EXPECT_EQ(postgres, sqlite);
    // search_path points at the schema: unqualified names are the mirror's.
    EXPECT_EQ(db.exec("SELECT count(*) FROM users").integer(0, 0), 0);
}

TEST_F(PgSchema, AMigratedSchemaIsLeftAsItIs)
{
    pg::Connection db(test::pg_conninfo());
    pg::migrate_schema(db, schema);
    db.exec("INSERT INTO sync_state (directory_id) VALUES ('directory_1')");
    auto const again = pg::migrate_schema(db, schema);
    ASSERT_TRUE(again.from.has_value());
    EXPECT_EQ(*again.from, store::latest_schema_version());
    EXPECT_FALSE(again.changed());
    EXPECT_EQ(db.exec("SELECT count(*) FROM sync_state").integer(0, 0), 1);
}

TEST_F(PgSchema, DaemonsStartingTogetherCreateItOnce)
{
    std::vector<std::future<pg::Migration>> runs;
    for (int i = 0; i < 4; ++i)
        runs.push_back(std::async(std::launch::async, [this] {
            pg::Connection db(test::pg_conninfo());
            return pg::migrate_schema(db, schema);
        }));
    int created = 0;
    for (auto& r : runs) {
        auto const m = r.get(); // none of them fails on the others' tables
        created += m.from.has_value() ? 0 : 1;
        EXPECT_EQ(m.to, store::latest_schema_version());
    }
    EXPECT_EQ(created, 1);
}

TEST_F(PgSchema, RefusesASchemaOfAnotherApplicationAndLeavesItAlone)
{
    pg::Connection db(test::pg_conninfo());
    db.exec("CREATE SCHEMA " + db.quote_identifier(schema));
    db.exec("CREATE TABLE " + db.quote_identifier(schema) + ".invoices (id int)");
    try {
        pg::migrate_schema(db, schema);
        FAIL() << "expected a SchemaError";
    } catch (pg::SchemaError const& e) {
        EXPECT_NE(std::string(e.what()).find("another application"), std::string::npos) << e.what();
    }
    auto const tables =
        db.exec("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = $1", {schema});
    EXPECT_EQ(tables.text(0, 0), "invoices");
}

TEST_F(PgSchema, RefusesASchemaNewerThanThisBuild)
{
    pg::Connection db(test::pg_conninfo());
    pg::migrate_schema(db, schema);
    db.exec("UPDATE schema_version SET version = 99");
    try {
        pg::migrate_schema(db, schema);
        FAIL() << "expected a SchemaError";
    } catch (pg::SchemaError const& e) {
        EXPECT_NE(std::string(e.what()).find("newer than this dirsyncd"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(db.exec("SELECT version FROM schema_version").integer(0, 0), 99);
}

TEST_F(PgSchema, MirrorStatusBoundsTheFeedAndASeqIsNeverReused)
{
    pg::Connection db(test::pg_conninfo());
    pg::migrate_schema(db, schema);
    auto star = [&] {
        return db.exec("SELECT state, min_seq, max_seq, schema_version FROM mirror_status "
                       "WHERE directory_id = '*'");
    };
    auto empty = star();
    ASSERT_EQ(empty.rows(), 1);
    EXPECT_EQ(empty.text(0, 0), "never_synced");
    EXPECT_EQ(empty.integer(0, 1), 1);
    EXPECT_EQ(empty.integer(0, 2), 0);
    EXPECT_EQ(empty.integer(0, 3), store::latest_schema_version());

    for (int i = 0; i < 3; ++i)
        db.exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                "VALUES (now(), 'directory_1', 'user', $1, 'upsert')",
                {"user_" + std::to_string(i)});
    db.exec("DELETE FROM changes"); // pruned, the newest rows too
    auto pruned = star();
    EXPECT_EQ(pruned.integer(0, 1), 4);
    EXPECT_EQ(pruned.integer(0, 2), 3);
    auto const next = db.exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, "
                              "op) VALUES (now(), 'directory_1', 'user', 'u', 'delete') "
                              "RETURNING seq");
    EXPECT_EQ(next.integer(0, 0), 4);
    EXPECT_THROW(db.exec("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                         "VALUES (now(), 'd', 'widget', 'w', 'upsert')"),
                 pg::Error);
}

TEST_F(PgSchema, AReaderRoleWithSelectOnlyReadsTheContractAndWritesNothing)
{
    pg::Connection db(test::pg_conninfo());
    pg::migrate_schema(db, schema);
    auto const role = schema + "_reader";
    auto const q = db.quote_identifier(schema);
    auto const r = db.quote_identifier(role);
    db.exec("DROP ROLE IF EXISTS " + r);
    db.exec("CREATE ROLE " + r + " LOGIN");
    // README.md, "Many hosts": what an app's role is given.
    db.exec("GRANT USAGE ON SCHEMA " + q + " TO " + r);
    db.exec("GRANT SELECT ON ALL TABLES IN SCHEMA " + q + " TO " + r);
    {
        pg::Connection app(test::pg_conninfo() + " user=" + role);
        pg::use_schema(app, schema);
        EXPECT_EQ(app.exec("SELECT state FROM mirror_status WHERE directory_id = '*'").text(0, 0),
                  "never_synced");
        EXPECT_EQ(app.exec("SELECT count(*) FROM users").integer(0, 0), 0);
        try {
            app.exec("DELETE FROM users");
            FAIL() << "a reader deleted rows";
        } catch (pg::Error const& e) {
            EXPECT_EQ(e.sqlstate, "42501") << e.what(); // insufficient_privilege
        }
    }
    db.exec("DROP OWNED BY " + r);
    db.exec("DROP ROLE " + r);
}
