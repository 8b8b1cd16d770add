// Telling a PostgreSQL connection string from an SQLite path, and logging it without secrets.
#include "pg/conninfo.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

using dirsync::pg::is_postgres_target;
using dirsync::pg::redacted;
namespace pg = dirsync::pg;

TEST(Conninfo, UrlsAndKeyValueStringsArePostgresAndPathsAreNot)
{
    EXPECT_TRUE(is_postgres_target("postgresql://db.example.com/dirsync"));
    EXPECT_TRUE(is_postgres_target("postgres://u@db/dirsync?sslmode=verify-full"));
    EXPECT_TRUE(is_postgres_target("host=db1 dbname=dirsync"));
    EXPECT_TRUE(is_postgres_target("dbname=dirsync"));
    EXPECT_FALSE(is_postgres_target("/var/lib/dirsyncd/mirror.db"));
    EXPECT_FALSE(is_postgres_target("mirror.db"));
    EXPECT_FALSE(is_postgres_target(":memory:"));
    EXPECT_FALSE(is_postgres_target("/tmp/odd=name.db"));   // not a conninfo keyword
    EXPECT_FALSE(is_postgres_target("./postgresql:/x.db")); // a path after all
}

TEST(Conninfo, ThePasswordNeverReachesALogLine)
{
    EXPECT_EQ(redacted("postgresql://app:s3cret@db.example.com:5433/dirsync"),
              "postgresql://app:***@db.example.com:5433/dirsync");
    EXPECT_EQ(redacted("postgresql://db/dirsync?user=app&password=s3cret&sslmode=verify-full"),
              "postgresql://db/dirsync?user=app&password=***&sslmode=verify-full");
    EXPECT_EQ(redacted("postgresql://app@db/dirsync"), "postgresql://app@db/dirsync");
    auto const kv = redacted("host=db1 password='s3 cret' dbname=dirsync");
    EXPECT_EQ(kv.find("s3"), std::string::npos) << kv;
    EXPECT_NE(kv.find("host=db1"), std::string::npos) << kv;
    EXPECT_NE(kv.find("password=***"), std::string::npos) << kv;
    EXPECT_NE(kv.find("dbname=dirsync"), std::string::npos) << kv;
    EXPECT_EQ(redacted("host=db1 password=x 'unterminated"),
              "(a connection string libpq cannot parse)");
}

TEST(Conninfo, ASystemdCredentialIsThePasswordFileUnlessPgpassfileNamesOne)
{
    test::TempDir dir;
    auto const credentials = dir.path().string();
    std::map<std::string, std::string> env{{"CREDENTIALS_DIRECTORY", credentials}};
    EXPECT_EQ(pg::password_file_from_credentials(env), std::nullopt) << "no credential pgpass";
    std::ofstream(credentials + "/pgpass") << "*:*:*:app:secret\n";
    EXPECT_EQ(pg::password_file_from_credentials(env), credentials + "/pgpass");
    env["PGPASSFILE"] = "/etc/dirsyncd/pgpass";
    EXPECT_EQ(pg::password_file_from_credentials(env), std::nullopt) << "the operator's own wins";
    EXPECT_EQ(pg::password_file_from_credentials({}), std::nullopt);
}
