// dirsyncd --once against a fake that misbehaves: every fault must end with the mirror identical to
// upstream (or, where the data cannot be trusted, nothing deleted) and the cause in the log.
#include "fake_workos.hpp"
#include "support/files.hpp"
#include "support/mirror_compare.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <fstream>

namespace {

struct FaultCase {
    char const* name;
    fake::Fault fault;
    int count;
    char const* log_needle; // what the log must say about it
    char const* config = "";
};

class FaultTest : public ::testing::TestWithParam<FaultCase> {
protected:
    test::TempDir dir;
    std::string db_path = dir.file("mirror.db");
    std::unique_ptr<fake::FakeWorkos> fake;

    void start(fake::DatasetSpec spec = {31, 2, 250, 10, 2})
    {
        fake::FakeOptions o;
        o.rate_limit = false;
        fake = std::make_unique<fake::FakeWorkos>(fake::Dataset::generate(spec), o, test::tls());
    }
    test::ProcessResult once(std::string const& config)
    {
        auto const path = dir.file("c.toml");
        std::ofstream(path) << config;
        return test::run_process(
            {DIRSYNCD_BINARY, "--once", "--config", path, "--db", db_path, "--api-url", fake->url(),
             "--ca-file", test::cert("ca.pem")},
            {{"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}});
    }
    std::vector<std::string> differences()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return fake->with(
            [&](fake::FakeApi& a) { return test::mirror_differences(db, a.dataset()); });
    }
};

} // namespace

TEST_P(FaultTest, SyncConvergesAndTheLogNamesTheCause)
{
    auto const& c = GetParam();
    start();
    fake->with([&](fake::FakeApi& a) {
        a.options().faults.push_back({"/directory_users?directory=", c.fault, c.count});
    });
    auto r = once(c.config);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_NE(r.out.find(c.log_needle), std::string::npos) << r.out;
    auto const stats = fake->with([](fake::FakeApi& a) { return a.stats(); });
    EXPECT_GE(stats.faults_injected, static_cast<std::uint64_t>(c.count));
    EXPECT_EQ(stats.early_retries, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultTest,
    ::testing::Values(
        FaultCase{"http500", fake::Fault::http_500_html, 2, "HTTP 500"},
        FaultCase{"http502", fake::Fault::http_502_html, 1, "HTTP 502"},
        FaultCase{"http503", fake::Fault::http_503_html, 1, "X-Request-ID req_"},
        FaultCase{"http504", fake::Fault::http_504_html, 1, "HTTP 504"},
        FaultCase{"http408", fake::Fault::http_408_html, 1, "HTTP 408"},
        FaultCase{"retry_after_date", fake::Fault::ratelimit_retry_after_date, 1, "HTTP 429"},
        FaultCase{"no_retry_after", fake::Fault::ratelimit_no_retry_after, 2, "(Ratelimited)"},
        FaultCase{"reset_mid_body", fake::Fault::reset_mid_body, 2, "reset by peer"},
        FaultCase{"hang", fake::Fault::hang, 1, "timeout", "request_timeout_seconds = 1\n"},
        FaultCase{"slow_drip", fake::Fault::slow_drip, 1, "full sync complete"},
        FaultCase{"oversize", fake::Fault::oversize, 1, "body limit exceeded",
                  "max_response_bytes = 1048576\n"},
        FaultCase{"malformed_json", fake::Fault::malformed_json, 1, "invalid JSON"},
        FaultCase{"truncated_json", fake::Fault::truncated_json, 1, "malformed response"},
        FaultCase{"wrong_shape", fake::Fault::wrong_shape, 1, "$.data: expected an array"},
        FaultCase{"duplicate_page", fake::Fault::duplicate_page, 3, "full sync complete"},
        FaultCase{"legacy_metadata", fake::Fault::legacy_metadata, 3, "full sync complete"}),
    [](::testing::TestParamInfo<FaultCase> const& p) { return std::string(p.param.name); });

TEST_F(FaultTest, ACursorThatDoesNotAdvanceStopsTheListingAndDeletesNothing)
{
    start();
    ASSERT_EQ(once("").exit_code, 0);
    fake->with([](fake::FakeApi& a) {
        auto& ds = a.dataset();
        auto const directory = ds.directories().begin()->first;
        ds.delete_user(*ds.users_of_directory(directory).begin());
        // The stuck cursor on that very directory: directories are listed in parallel, and a
        // fault on any other one would let this listing finish and delete the user by right.
        a.options().faults.push_back(
            {"/directory_users?directory=" + directory, fake::Fault::stuck_cursor, 1});
    });
    SQLite::Database before(db_path, SQLite::OPEN_READONLY);
    auto const users = before.execAndGet("SELECT COUNT(*) FROM users").getInt();
    auto r = once("");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cursor did not advance"), std::string::npos) << r.err;
    SQLite::Database after(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(after.execAndGet("SELECT COUNT(*) FROM users").getInt(), users)
        << "a listing that was cut short deletes nothing";
}

TEST_F(FaultTest, LegacyTimestampFormsAreStoredAsSent)
{
    for (auto style : {fake::TimestampStyle::offset_no_colon, fake::TimestampStyle::space_no_zone,
                       fake::TimestampStyle::micros}) {
        std::filesystem::remove(db_path);
        fake::DatasetSpec spec{32, 1, 50, 4, 2};
        spec.timestamps = style;
        start(spec);
        auto r = once("");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(differences(), std::vector<std::string>{});
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        EXPECT_GT(db.execAndGet("SELECT MIN(updated_at_us) FROM users").getInt64(), 0);
    }
}

TEST_F(FaultTest, TheApiKeyAppearsNowhereAfterARunWithEveryFaultAtTraceLevel)
{
    start();
    auto const api_key = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
    fake->with([](fake::FakeApi& a) {
        // One fault per listing (faults on one listing would hit the retries of one request,
        // and their backoff adds up): every directory's and every group's listing gets one.
        std::vector<std::string> targets{"/directories"};
        auto const& ds = a.dataset();
        for (auto const& [dir_id, _] : ds.directories()) {
            targets.push_back("/directory_groups?directory=" + dir_id);
            targets.push_back("/directory_users?directory=" + dir_id);
            for (auto const& group : ds.groups_of_directory(dir_id))
                targets.push_back("/directory_users?group=" + group);
        }
        using F = fake::Fault;
        std::size_t next = 0;
        for (auto f : {F::http_500_html, F::http_502_html, F::http_503_html, F::http_504_html,
                       F::http_408_html, F::ratelimit_retry_after_date, F::ratelimit_no_retry_after,
                       F::reset_mid_body, F::hang, F::slow_drip, F::oversize, F::malformed_json,
                       F::truncated_json, F::wrong_shape, F::duplicate_page, F::legacy_metadata,
                       F::stuck_cursor})
            a.options().faults.push_back({targets.at(next++ % targets.size()), f, 1});
    });
    auto r = once("log_level = \"trace\"\nmembership_source = \"per_group\"\n"
                  "request_timeout_seconds = 1\nmax_response_bytes = 1048576\n");
    EXPECT_GE(fake->with([](fake::FakeApi& a) { return a.stats().faults_injected; }), 17u);
    // trace logging ran, and shows where the key would have been
    EXPECT_NE(r.out.find("Authorization: <redacted"), std::string::npos) << r.out.substr(0, 2000);

    // a rejected key is a secret too
    std::string const wrong_key = "sk_test_wrong_but_secret_4242";
    auto const path = dir.file("c.toml");
    auto rejected = test::run_process({DIRSYNCD_BINARY, "--once", "--config", path, "--db", db_path,
                                       "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
                                      {{"WORKOS_API_KEY", wrong_key}});
    EXPECT_EQ(rejected.exit_code, 3);

    for (auto const& key : {api_key, wrong_key}) {
        for (auto const& text : {r.out, r.err, rejected.out, rejected.err}) {
            EXPECT_EQ(text.find(key), std::string::npos) << text.substr(0, 2000);
            EXPECT_EQ(text.find(key.substr(8)), std::string::npos); // nor a recognisable part
        }
        for (auto const* suffix : {"", "-wal", "-shm"})
            EXPECT_EQ(test::read_file(db_path + suffix).value_or("").find(key), std::string::npos)
                << "mirror.db" << suffix;
    }
}
