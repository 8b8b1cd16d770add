// The operator's view of a running daemon: /metrics parsed by a real Prometheus parser and
// checked against the run, /healthz, and the event stream read in the right order whatever the
// server's default (a stream that goes backwards is reported, never a silent park).
#include "support/daemon_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using test::eventually;
namespace json = boost::json;

namespace {

// Fetches a URL and prints {"status": N, "body": "..."}; with --parse, the body's samples as
// parsed by prometheus_client (Debian's python3-prometheus-client).
constexpr char const* scrape_script = R"py(
import json, sys, urllib.error, urllib.request
url, parse = sys.argv[1], len(sys.argv) > 2
try:
    with urllib.request.urlopen(url, timeout=10) as r:
        status, body = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read().decode()
out = {"status": status, "body": body}
if parse:
    from prometheus_client.parser import text_string_to_metric_families
    out["samples"] = [{"name": s.name, "labels": s.labels, "value": s.value}
                      for f in text_string_to_metric_families(body) for s in f.samples]
print(json.dumps(out))
)py";

int free_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

class FreshnessTest : public test::DaemonFixture {
protected:
    int port = free_port();
    std::string script = dir.file("scrape.py");

    void SetUp() override { std::ofstream(script) << scrape_script; }

    std::string metrics_config() const
    {
        return "metrics_address = \"127.0.0.1:" + std::to_string(port) + "\"\n";
    }

    json::value get(std::string const& path, bool parse = false)
    {
        std::vector<std::string> argv{"/usr/bin/python3", script,
                                      "http://127.0.0.1:" + std::to_string(port) + path};
        if (parse)
            argv.push_back("--parse");
        auto const r = test::run_process(argv, {{"PATH", "/usr/bin:/bin"}}, 60s);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? json::parse(r.out) : json::value(json::object{});
    }

    // The value of the one sample with this name and these labels (NaN when there is none).
    static double sample(json::value const& scrape, std::string const& name,
                         std::map<std::string, std::string> const& labels = {})
    {
        for (auto const& s : scrape.at("samples").as_array()) {
            if (s.at("name").as_string() != name)
                continue;
            bool match = true;
            for (auto const& [k, v] : labels) {
                auto const* l = s.at("labels").as_object().if_contains(k);
                match = match && l && l->as_string() == v;
            }
            if (match)
                return s.at("value").to_number<double>();
        }
        return std::nan("");
    }

    std::string mirror_state()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return db
            .execAndGet("SELECT state || ' ' || COALESCE(last_error, '') FROM mirror_status "
                        "WHERE directory_id = '*'")
            .getString();
    }
};

} // namespace

TEST_F(FreshnessTest, MetricsParseAndMatchWhatTheRunDid)
{
    start_fake();
    start_daemon(metrics_config());
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Counted", "Event"); });
    ASSERT_TRUE(converged());
    ASSERT_TRUE(eventually([&] { return get("/healthz").at("status").as_int64() == 200; }, 10s))
        << get("/healthz");

    auto const events_before = requests("GET /events");
    auto const m = get("/metrics", true);
    auto const events_after = requests("GET /events");
    ASSERT_EQ(m.at("status").as_int64(), 200);
    EXPECT_FALSE(std::isnan(sample(m, "dirsyncd_build_info"))) << m.at("body").as_string();
    EXPECT_EQ(
        sample(m, "dirsyncd_requests_total", {{"endpoint", "/directory_users"}, {"code", "200"}}),
        static_cast<double>(requests("GET /directory_users")));
    // the poll goes on while we scrape: one request may be on the wire, not yet answered
    auto const events =
        sample(m, "dirsyncd_requests_total", {{"endpoint", "/events"}, {"code", "200"}});
    EXPECT_GE(events, static_cast<double>(events_before) - 1);
    EXPECT_LE(events, static_cast<double>(events_after));
    EXPECT_EQ(sample(m, "dirsyncd_rate_limited_total"), 0);
    EXPECT_GE(sample(m, "dirsyncd_events_applied_total"), 1);
    EXPECT_EQ(sample(m, "dirsyncd_events_quarantined_total"), 0);
    EXPECT_EQ(sample(m, "dirsyncd_full_sync_duration_seconds_count"), 1);
    EXPECT_GT(sample(m, "dirsyncd_last_caught_up_timestamp_seconds"),
              static_cast<double>(std::time(nullptr) - 60));
    EXPECT_GT(sample(m, "dirsyncd_last_event_timestamp_seconds"), 0);

    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    EXPECT_EQ(sample(m, "dirsyncd_changes_max_seq"),
              static_cast<double>(db.execAndGet("SELECT MAX(seq) FROM changes").getInt64()));
    fake->with([&](fake::FakeApi& a) {
        for (auto const& [id, d] : a.dataset().directories()) {
            EXPECT_EQ(
                sample(m, "dirsyncd_directory_objects", {{"directory", id}, {"kind", "users"}}),
                static_cast<double>(a.dataset().users_of_directory(id).size()));
            EXPECT_EQ(
                sample(m, "dirsyncd_directory_objects", {{"directory", id}, {"kind", "groups"}}),
                static_cast<double>(a.dataset().groups_of_directory(id).size()));
            EXPECT_EQ(sample(m, "dirsyncd_directory_held", {{"directory", id}}), 0);
            EXPECT_GT(sample(m, "dirsyncd_directory_last_full_sync_timestamp_seconds",
                             {{"directory", id}}),
                      0);
        }
    });
    EXPECT_EQ(get("/nothing").at("status").as_int64(), 404);
}

TEST_F(FreshnessTest, ANonLoopbackMetricsAddressIsRefusedUnlessAllowed)
{
    start_fake();
    auto const config = write_config("metrics_address = \"0.0.0.0:9464\"\n");
    auto const r = test::run_process({DIRSYNCD_BINARY, "--config", config, "--db", db_path},
                                     {{"WORKOS_API_KEY", "sk_test_x"}}, 30s);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("metrics_allow_remote"), std::string::npos) << r.err;
}

TEST_F(FreshnessTest, WithTheDocumentedNewestFirstDefaultTheDaemonStillConverges)
{
    fake_options = [](fake::FakeOptions& o) {
        o.events_order = fake::FakeOptions::EventsOrder::honor;
    };
    start_fake();
    start_daemon();
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    auto const dir_id = first_directory();
    for (int round = 0; round < 3; ++round) {
        mutate([&](fake::Dataset& ds) {
            for (int i = 0; i < 4; ++i)
                ds.add_user(dir_id, "Honored", std::to_string(round * 10 + i));
        });
        ASSERT_TRUE(converged()) << "round " << round << ": "
                                 << ::testing::PrintToString(differences());
    }
    EXPECT_EQ(mirror_state(), "ok ");
}

TEST_F(FreshnessTest, AStreamThatGoesBackwardsIsReportedAndRepaired)
{
    start_fake();
    start_daemon(metrics_config());
    ASSERT_TRUE(ready()) << daemon->output();
    ASSERT_TRUE(converged());
    auto const dir_id = first_directory();
    fake->with([](fake::FakeApi& a) {
        a.options().events_order = fake::FakeOptions::EventsOrder::newest_first;
    });
    mutate([&](fake::Dataset& ds) {
        for (int i = 0; i < 3; ++i)
            ds.add_user(dir_id, "Backwards", std::to_string(i));
    });
    ASSERT_TRUE(eventually(
        [&] { return daemon->output().find("the stream went backwards") != std::string::npos; },
        10s))
        << daemon->output();
    ASSERT_TRUE(eventually([&] { return mirror_state().rfind("failing GET /events", 0) == 0; }, 5s))
        << mirror_state();
    auto const health = get("/healthz");
    EXPECT_EQ(health.at("status").as_int64(), 503);
    auto const m = get("/metrics", true);
    EXPECT_GE(sample(m, "dirsyncd_events_out_of_order_total"), 1);

    // the server mends its ways: the daemon's resync and stream restart bring everything back
    fake->with([](fake::FakeApi& a) {
        a.options().events_order = fake::FakeOptions::EventsOrder::oldest_first;
    });
    ASSERT_TRUE(converged(30s)) << ::testing::PrintToString(differences());
    ASSERT_TRUE(eventually([&] { return mirror_state() == "ok "; }, 20s)) << mirror_state();
    EXPECT_TRUE(eventually([&] { return get("/healthz").at("status").as_int64() == 200; }, 10s));
}
