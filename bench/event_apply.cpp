// Benchmark: how many events per second the event stream takes, decode and apply, from pages of
// 100 as the Events API sends them.
//
//   dirsync-bench-events [--users N] [--events N] [--db PATH]
//
// Mirrors one generated directory (a real full sync through the API client, in-process against the
// fake WorkOS API) into an on-disk database, then makes N changes upstream (renames, memberships
// added and removed, users created and deleted: the mix a directory sees), fetches the events
// as pages of 100 and times parse_event_page + EventStore::apply_page over all of them, each page
// one transaction with its cursor as in the daemon. Prints events/s for decode and apply together
// and for each alone, and checks that the mirror matches the fake afterwards.
#include "decode/events.hpp"
#include "fake_api.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"
#include "support/fake_transport.hpp"
#include "support/mirror_compare.hpp"
#include "support/run.hpp"
#include "sync/full_sync.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sqlite3.h>

using namespace dirsync;
using Clock = std::chrono::steady_clock;

namespace {

// --statements: the time SQLite spent in each statement while applying (sqlite3_trace_v2).
struct StatementTimes {
    std::map<std::string, std::pair<std::int64_t, int>> by_sql; // ns, runs
    bool on = false;
};
StatementTimes statement_times;

int on_profile(unsigned, void*, void* stmt, void* ns)
{
    if (!statement_times.on)
        return 0;
    auto& [total, runs] = statement_times.by_sql[sqlite3_sql(static_cast<sqlite3_stmt*>(stmt))];
    total += *static_cast<std::int64_t*>(ns);
    ++runs;
    return 0;
}

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpu_seconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// N changes picked like a live directory's: mostly updates, then membership churn, a few users
// coming and going.
void make_changes(fake::Dataset& ds, std::string const& dir, int n, std::mt19937_64& rng)
{
    std::vector<std::string> users(ds.users_of_directory(dir).begin(),
                                   ds.users_of_directory(dir).end());
    std::vector<std::string> const groups(ds.groups_of_directory(dir).begin(),
                                          ds.groups_of_directory(dir).end());
    auto pick = [&](auto const& v) { return v[rng() % v.size()]; };
    for (int i = 0; i < n; ++i) {
        auto const roll = rng() % 100;
        if (roll < 55) {
            ds.update_user(pick(users), fmt::format("Name{}", i));
        } else if (roll < 75) {
            ds.add_member(pick(users), pick(groups));
        } else if (roll < 90) {
            auto const user = pick(users);
            auto const& of = ds.groups_of_user(user);
            if (!of.empty())
                ds.remove_member(user, *of.begin());
        } else if (roll < 95) {
            users.push_back(ds.add_user(dir, fmt::format("New{}", i), "User"));
        } else if (users.size() > 1) {
            auto const at = rng() % users.size();
            ds.delete_user(users[at]);
            users.erase(users.begin() + static_cast<std::ptrdiff_t>(at));
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    int users = 10000, events = 20000;
    bool statements = false;
    std::string db_path = "/tmp/dirsync-bench-events.db";
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        if (a == "--statements") {
            statements = true;
            continue;
        }
        if (i + 1 >= argc)
            break;
        ++i;
        if (a == "--users")
            users = std::stoi(argv[i]);
        else if (a == "--events")
            events = std::stoi(argv[i]);
        else if (a == "--db")
            db_path = argv[i];
        else {
            std::cerr << "usage: dirsync-bench-events [--users N] [--events N] [--db PATH] "
                         "[--statements]\n";
            return 2;
        }
    }
    for (auto const* suffix : {"", "-wal", "-shm", ".staging", ".staging-wal", ".staging-shm"})
        std::filesystem::remove(db_path + suffix);

    fake::FakeOptions options;
    options.rate_limit = false;
    fake::FakeApi api{fake::Dataset::generate({.seed = 7,
                                               .directories = 1,
                                               .users = users,
                                               .groups = std::max(1, users / 20),
                                               .max_groups_per_user = 5,
                                               .skewed = true}),
                      options};
    auto const dir = api.dataset().directories().begin()->first;

    auto db = store::open_database(db_path);
    store::MirrorStore mirror{*db};
    {
        boost::asio::io_context ioc;
        test::FakeApiTransport transport{api};
        api::RateLimiter limiter{ioc.get_executor(), RateLimits{1e6, 1e6}};
        test::CapturedLog log;
        api::ApiClient client(ioc.get_executor(), transport, limiter,
                              {options.api_key, "bench", {}}, *log.logger);
        auto const report = test::run(ioc, sync::run_full_sync({client, mirror, *log.logger}, {}));
        if (report.synced.size() != 1) {
            std::cerr << "the full sync failed:\n" << log.text();
            return 1;
        }
    }

    auto const first_event = api.dataset().events().size();
    std::mt19937_64 rng(42);
    make_changes(api.dataset(), dir, events, rng);
    std::vector<std::string> bodies;
    std::string after = first_event == 0 ? "" : api.dataset().events()[first_event - 1].id;
    for (;;) {
        api::EventsQuery query;
        query.types.assign(std::begin(default_event_types), std::end(default_event_types));
        if (!after.empty())
            query.after = after;
        auto const target = api::events_target(query);
        auto res = api.handle({"GET", target, {{"authorization", "Bearer " + options.api_key}}});
        if (res.status != 200) {
            std::cerr << "GET " << target << ": " << res.status << " " << res.body << "\n";
            return 1;
        }
        auto const page = boost::json::parse(res.body).as_object();
        auto const& data = page.at("data").as_array();
        if (data.empty())
            break;
        after = std::string(data.back().as_object().at("id").as_string());
        bodies.push_back(std::move(res.body));
    }

    store::EventStore store{*db};
    sqlite3_trace_v2(db->getHandle(), statements ? SQLITE_TRACE_PROFILE : 0, &on_profile, nullptr);
    store::ScopeFilter const all = [](std::string const&, std::optional<std::string> const&) {
        return true;
    };
    std::size_t total = 0;
    double decode_s = 0, apply_s = 0, apply_cpu_s = 0;
    store::EventPageResult sum;
    for (auto const& body : bodies) {
        auto const t0 = Clock::now();
        auto page = decode::parse_event_page(body);
        decode_s += seconds_since(t0);
        if (!page) {
            std::cerr << "a page did not decode: " << page.error().message() << "\n";
            return 1;
        }
        auto const t1 = Clock::now();
        auto const c1 = cpu_seconds();
        statement_times.on = true;
        auto const r = store.apply_page(page->items, all, now_text());
        statement_times.on = false;
        apply_s += seconds_since(t1);
        apply_cpu_s += cpu_seconds() - c1;
        total += page->items.size();
        sum.applied += r.applied;
        sum.unchanged += r.unchanged;
        sum.quarantined += r.quarantined;
    }

    auto const differences = test::mirror_differences(*db, api.dataset());
    std::cout << fmt::format(
        "{} events in {} pages of up to 100 ({} applied, {} unchanged, {} quarantined)\n"
        "decode + apply: {:.0f} events/s ({:.1f} us per event)\n"
        "decode only:    {:.0f} events/s\napply only:     {:.0f} events/s ({:.0f} events per CPU "
        "second)\n"
        "mirror matches the fake afterwards: {}\n",
        total, bodies.size(), sum.applied, sum.unchanged, sum.quarantined,
        static_cast<double>(total) / (decode_s + apply_s),
        1e6 * (decode_s + apply_s) / static_cast<double>(total),
        static_cast<double>(total) / decode_s, static_cast<double>(total) / apply_s,
        static_cast<double>(total) / apply_cpu_s, differences.empty() ? "yes" : "NO");
    for (std::size_t i = 0; i < differences.size() && i < 10; ++i)
        std::cout << "  " << differences[i] << "\n";
    if (statements) {
        std::vector<std::pair<std::int64_t, std::string>> rows;
        for (auto const& [sql, t] : statement_times.by_sql)
            rows.emplace_back(t.first, fmt::format("{:8.1f} us x {:6} {}", t.first / 1e3 / t.second,
                                                   t.second, sql.substr(0, 110)));
        std::sort(rows.rbegin(), rows.rend());
        std::cout << "time in SQLite by statement (mean per run, runs, statement):\n";
        for (auto const& [ns, line] : rows)
            std::cout << fmt::format("{:6.1f} % ", 100.0 * static_cast<double>(ns) / 1e9 / apply_s)
                      << line << "\n";
    }
    return differences.empty() ? 0 : 1;
}
