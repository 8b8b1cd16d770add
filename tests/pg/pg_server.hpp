// The PostgreSQL server of the test run (test_server.sh, started by the CTest fixture
// "postgres"), and a schema of each test's own, dropped after it.
#pragma once

#include "pg/connection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

namespace test {

// Throws (the test fails, it is never skipped) when the server was not started.
inline std::string pg_conninfo()
{
    std::ifstream in(DIRSYNC_TEST_PG_CONNINFO_FILE);
    std::string line;
    if (!in || !std::getline(in, line) || line.empty())
        throw std::runtime_error("no PostgreSQL test server: " DIRSYNC_TEST_PG_CONNINFO_FILE
                                 " is missing; run the tests with ctest (fixture postgres), or "
                                 "start one with tests/pg/test_server.sh start DIR");
    // quiet: "schema already exists, skipping" and "drop cascades to ..." say nothing of use
    return line + " options='-c client_min_messages=warning'";
}

// The next notification sent by the session with backend pid `sender`. The channel is the
// database's, not the schema's: the tests of other schemas, running at the same time, are
// heard too (as an app hears every mirror of its database) and skipped here.
inline std::optional<dirsync::pg::Notification>
next_notification_from(dirsync::pg::Connection& app, int sender, std::chrono::milliseconds wait)
{
    auto const deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto heard = app.next_notification(std::max(left, std::chrono::milliseconds(0)));
        if (!heard || heard->sender_pid == sender)
            return heard;
    }
}

class PgSchemaTest : public ::testing::Test {
protected:
    PgSchemaTest()
    {
        auto const* info = ::testing::UnitTest::GetInstance()->current_test_info();
        schema =
            "test_" + std::string(info->name()).substr(0, 40) + "_" + std::to_string(::getpid());
        for (auto& c : schema)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ~PgSchemaTest() override
    {
        try {
            dirsync::pg::Connection admin(pg_conninfo());
            admin.exec("DROP SCHEMA IF EXISTS " + admin.quote_identifier(schema) + " CASCADE");
        } catch (std::exception const& e) {
            ADD_FAILURE() << "dropping schema " << schema << ": " << e.what();
        }
    }
    std::string schema;
};

} // namespace test
