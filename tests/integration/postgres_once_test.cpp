// The real dirsyncd binary, `--once --db <PostgreSQL conninfo>`, against the fake WorkOS server
// over real TLS and the PostgreSQL server of the test run (fixture postgres): the mirror matches
// the fake, a second run writes nothing, a second writer is refused while the schema's writer
// lease is held, and an unreachable server is a database error that never shows the password.
#include "fake_workos.hpp"
#include "pg/connection.hpp"
#include "pg/mirror_rows.hpp"
#include "pg/pg_server.hpp"
#include "pg/schema.hpp"
#include "pg/writer_lease.hpp"
#include "support/pg_mirror_compare.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace dirsync;
using namespace std::chrono_literals;

namespace {

class PostgresOnceTest : public test::PgSchemaTest {
protected:
    PostgresOnceTest()
        : fake(std::make_unique<fake::FakeWorkos>(fake::Dataset::generate({5, 3, 300, 24, 3}),
                                                  fake::FakeOptions{}, test::tls("server")))
        , db(test::pg_conninfo())
    {
        std::ofstream(config) << "database_schema = \"" << schema << "\"\n";
    }

    test::ProcessResult once(std::string const& database,
                             std::map<std::string, std::string> env = {})
    {
        env["WORKOS_API_KEY"] = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
        return test::run_process({DIRSYNCD_BINARY, "--once", "--config", config, "--db", database,
                                  "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
                                 env);
    }

    std::vector<std::string> differences()
    {
        pg::use_schema(db, schema);
        return fake->with(
            [&](fake::FakeApi& a) { return test::pg_mirror_differences(db, a.dataset()); });
    }
    long long count(std::string const& sql)
    {
        pg::use_schema(db, schema);
        return db.exec(sql).integer(0, 0);
    }

    test::TempDir dir;
    std::string config = dir.file("dirsyncd.toml");
    std::unique_ptr<fake::FakeWorkos> fake;
    pg::Connection db;
};

} // namespace

TEST_F(PostgresOnceTest, MirrorsEveryDirectoryAndASecondRunWritesNothing)
{
    auto const first = once(test::pg_conninfo());
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE((first.out + first.err).find("schema created at version"), std::string::npos)
        << first.out << first.err;
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_EQ(count("SELECT count(*) FROM mirror_status WHERE state = 'ok' AND directory_id <> "
                    "'*'"),
              3);
    auto const seq = count("SELECT max(seq) FROM changes");
    EXPECT_GT(seq, 0);

    auto const second = once(test::pg_conninfo());
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ((second.out + second.err).find("schema created"), std::string::npos)
        << "migrated once";
    EXPECT_EQ(count("SELECT max(seq) FROM changes"), seq) << "nothing changed, nothing written";
}

TEST_F(PostgresOnceTest, ASecondWriterIsRefusedWhileTheSchemasLeaseIsHeld)
{
    pg::Connection holder(test::pg_conninfo());
    pg::migrate_schema(holder, schema);
    pg::WriterLease lease(holder, schema, 30s);
    ASSERT_TRUE(lease.try_acquire());
    auto const r = once(test::pg_conninfo());
    EXPECT_EQ(r.exit_code, 6) << r.err;
    EXPECT_NE(r.err.find("another dirsyncd is the writer of this schema"), std::string::npos)
        << r.err;
    EXPECT_EQ(count("SELECT count(*) FROM users"), 0) << "nothing written";

    lease.release();
    EXPECT_EQ(once(test::pg_conninfo()).exit_code, 0) << "the next run, once it is free";
}

TEST_F(PostgresOnceTest, AnUnreachableServerIsADatabaseErrorAndThePasswordIsNeverShown)
{
    std::string const secret = "s3cretPassw0rd";
    auto const r = once("postgresql://app:" + secret + "@127.0.0.1:1/dirsync");
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("postgresql://app:***@127.0.0.1:1/dirsync"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("127.0.0.1"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
}

TEST_F(PostgresOnceTest, ThePasswordComesFromTheSystemdCredentialPgpass)
{
    // the test server's role that must authenticate (tests/pg/test_server.sh)
    auto info = test::pg_conninfo();
    info.replace(info.find("user=dirsync "), 13, "user=dirsync_password ");
    auto const without = once(info);
    EXPECT_EQ(without.exit_code, 5) << without.err;
    EXPECT_NE(without.err.find("password"), std::string::npos) << without.err;

    auto const credentials = dir.file("credentials");
    std::filesystem::create_directory(credentials);
    std::ofstream(credentials + "/pgpass") << "127.0.0.1:*:*:dirsync_password:test-password\n";
    std::filesystem::permissions(credentials + "/pgpass", std::filesystem::perms::owner_read);
    auto const with = once(info, {{"CREDENTIALS_DIRECTORY", credentials}});
    EXPECT_EQ(with.exit_code, 0) << with.err;
    EXPECT_NE((with.out + with.err).find("the password file is the systemd credential pgpass"),
              std::string::npos)
        << with.out << with.err;
    EXPECT_EQ((with.out + with.err).find("test-password"), std::string::npos);
    EXPECT_EQ(differences(), std::vector<std::string>{});
}

TEST_F(PostgresOnceTest, ABadSchemaNameIsASettingsError)
{
    std::ofstream(config) << "database_schema = \"Mixed-Case\"\n";
    auto const r = once(test::pg_conninfo());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("database_schema"), std::string::npos) << r.err;
}

TEST_F(PostgresOnceTest, CheckConfigOnlineReachesTheServerAndTellsWhatTheSchemaHolds)
{
    auto check = [&](std::string const& database) {
        return test::run_process(
            {DIRSYNCD_BINARY, "check-config", "--online", "--config", config, "--db", database,
             "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
            {{"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}});
    };
    auto const before = check(test::pg_conninfo());
    EXPECT_EQ(before.exit_code, 0) << before.err;
    EXPECT_NE(before.out.find("reachable; not created yet"), std::string::npos) << before.out;
    EXPECT_NE(before.out.find("the API key sees 3 directories"), std::string::npos) << before.out;
    ASSERT_EQ(once(test::pg_conninfo()).exit_code, 0);
    auto const after = check(test::pg_conninfo());
    EXPECT_EQ(after.exit_code, 0) << after.err;
    EXPECT_NE(after.out.find("schema version 6; no dirsyncd writes it now"), std::string::npos)
        << after.out;
    auto const unreachable = check("postgresql://app:s3cret@127.0.0.1:1/dirsync");
    EXPECT_EQ(unreachable.exit_code, 5) << unreachable.err;
    EXPECT_EQ((unreachable.out + unreachable.err).find("s3cret"), std::string::npos);
}
