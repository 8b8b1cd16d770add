// Benchmark: the PostgreSQL mirror's writes on their own (issue 12), before the daemon drives
// them: a first merge of a staged directory, the no-op resync of the same listing, and event
// pages of 100 applied with their cursor. Prints wall time, this process's CPU and the server's
// WAL bytes for each.
//
//   dirsync-bench-pg-store --pg CONNINFO [--users N] [--events N]
//
// The schema dirsyncd_bench is dropped and made anew. The staging is written with bulk INSERTs
// (the staging store will write a page of the listing at a time); users carry about 1 KB of
// raw_json, as a real directory's do.
#include "pg/connection.hpp"
#include "pg/event_store.hpp"
#include "pg/merge.hpp"
#include "pg/schema.hpp"
#include "support/model_builders.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace dirsync;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::string const dir = "directory_bench";
std::string const now = "2026-12-02T00:00:00.000Z";

User bench_user(int i, int version)
{
    auto u = test::user(fmt::format("user_{:07}", i), dir, fmt::format("First{}", i), version);
    // about 1 KB, as the API's objects with their raw_attributes
    u.raw_json.pop_back();
    u.raw_json += fmt::format(R"(,"custom_attributes":{{"department":"Dept {}","title":"{}"}},)"
                              R"("raw_attributes":{{"blob":"{}"}}}})",
                              i % 40, std::string(60, 't'), std::string(700, 'r'));
    return u;
}

struct Measure {
    pg::Connection& db;
    std::string label;
    Clock::time_point t0 = Clock::now();
    double c0 = cpu_seconds();
    std::string lsn0 = db.exec("SELECT pg_current_wal_insert_lsn()").text(0, 0);

    void done(std::string const& what)
    {
        double const wall = std::chrono::duration<double>(Clock::now() - t0).count();
        double const cpu = cpu_seconds() - c0;
        auto const wal =
            db.exec("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1)", {lsn0}).text(0, 0);
        std::cout << fmt::format("{:<28} wall {:7.3f} s   dirsync CPU {:6.3f} s   WAL {:>10} "
                                 "bytes   {}\n",
                                 label, wall, cpu, wal, what);
    }
};

void stage_listing(pg::Connection& db, int users, int groups)
{
    db.exec("BEGIN");
    db.exec("INSERT INTO full_sync_runs (directory_id, run_id, started_at) VALUES ($1, 'r', $2) "
            "ON CONFLICT DO NOTHING",
            {dir, now});
    db.exec("INSERT INTO staging_runs (directory_id, run_id, started_at, started_at_us, phase) "
            "VALUES ($1, 'r', $2, 0, 'done') ON CONFLICT DO NOTHING",
            {dir, now});
    for (int first = 0; first < users; first += 100) {
        std::vector<std::string> ids, emails, names, created, updated, raw, us;
        for (int i = first; i < std::min(users, first + 100); ++i) {
            auto const u = bench_user(i, 1);
            ids.push_back(u.id);
            emails.push_back(*u.email);
            names.push_back(*u.first_name);
            created.push_back(u.created_at.text);
            updated.push_back(u.updated_at.text);
            raw.push_back(u.raw_json);
            us.push_back(std::to_string(u.updated_at.micros));
        }
        db.exec("INSERT INTO staged_users (id, directory_id, organization_id, email, first_name, "
                "state, created_at, updated_at, raw_json, updated_at_us) SELECT i, $1, 'org_1', "
                "e, n, 'active', c, u, r, us FROM unnest($2::text[], $3::text[], $4::text[], "
                "$5::timestamptz[], $6::timestamptz[], $7::jsonb[], $8::bigint[]) AS b (i, e, n, "
                "c, u, r, us)",
                {dir, pg::text_array(ids), pg::text_array(emails), pg::text_array(names),
                 pg::text_array(created), pg::text_array(updated), pg::text_array(raw),
                 pg::text_array(us)});
    }
    db.exec("INSERT INTO staged_groups (id, directory_id, name, created_at, updated_at, raw_json, "
            "updated_at_us) SELECT 'group_' || g, $1, 'Group ' || g, $2, $2, jsonb_build_object("
            "'id', 'group_' || g, 'name', 'Group ' || g), 0 FROM generate_series(1, $3::integer) "
            "g",
            {dir, now, std::to_string(groups)});
    // each user in two groups
    db.exec("INSERT INTO staged_membership_diff (directory_id, group_id, user_id, op) SELECT $1, "
            "'group_' || (1 + (u + k) % $3::integer), 'user_' || lpad(u::text, 7, '0'), 'add' "
            "FROM generate_series(0, $2::integer - 1) u, generate_series(0, 1) k ON CONFLICT DO "
            "NOTHING",
            {dir, std::to_string(users), std::to_string(groups)});
    db.exec("COMMIT");
}

} // namespace

int main(int argc, char** argv)
{
    int users = 10000, events = 10000;
    std::string conninfo;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string const a = argv[i];
        if (a == "--pg")
            conninfo = argv[i + 1];
        else if (a == "--users")
            users = std::stoi(argv[i + 1]);
        else if (a == "--events")
            events = std::stoi(argv[i + 1]);
    }
    if (conninfo.empty()) {
        std::cerr << "usage: dirsync-bench-pg-store --pg CONNINFO [--users N] [--events N]\n";
        return 2;
    }
    try {
        pg::Connection db(conninfo);
        db.exec("SET client_min_messages = warning");
        db.exec("DROP SCHEMA IF EXISTS dirsyncd_bench CASCADE");
        pg::migrate_schema(db, "dirsyncd_bench");
        int const groups = std::max(1, users / 20);
        db.exec("INSERT INTO directories (id, state, created_at, updated_at, raw_json, "
                "updated_at_us) VALUES ($1, 'linked', $2, $2, '{}', 0)",
                {dir, now});

        {
            Measure m{db, "stage the listing (bulk)"};
            stage_listing(db, users, groups);
            m.done(fmt::format("{} users, {} groups, {} memberships", users, groups, users * 2));
        }
        {
            Measure m{db, "first merge"};
            auto const r = pg::merge_directory(db, test::directory(dir), {"per_group", 0}, now);
            m.done(fmt::format("{} users, {} memberships upserted", r.users.upserted,
                               r.memberships.upserted));
        }
        stage_listing(db, users, groups);
        db.exec("DELETE FROM staged_membership_diff"); // the same memberships: no difference
        {
            Measure m{db, "no-op resync merge"};
            auto const r = pg::merge_directory(db, test::directory(dir), {"per_group", 0}, now);
            m.done(fmt::format("{} rows upserted",
                               r.users.upserted + r.groups.upserted + r.memberships.upserted));
        }

        // event pages of 100: renames, membership churn, as a live directory sees
        std::mt19937_64 rng(42);
        std::vector<std::vector<EventPage::Item>> pages(1);
        for (int i = 0; i < events; ++i) {
            if (pages.back().size() == 100)
                pages.emplace_back();
            int const u = static_cast<int>(rng() % static_cast<unsigned>(users));
            auto const id = fmt::format("event_{:08}", i);
            auto const created = test::at(30);
            if (i % 3 == 0) {
                MembershipEvent m{dir, bench_user(u, 1), test::group("group_1", dir, "Group 1")};
                m.group.updated_at = {now, 0};
                pages.back().push_back(Event{id, "dsync.group.user_added",
                                             EventKind::membership_added, created, dir, m});
            } else {
                pages.back().push_back(Event{id, "dsync.user.updated", EventKind::user_upserted,
                                             created, dir, bench_user(u, 2 + i % 50)});
            }
        }
        pg::EventStore store(db);
        store::ScopeFilter const all = [](std::string const&, std::optional<std::string> const&) {
            return true;
        };
        {
            Measure m{db, "events, pages of 100"};
            int applied = 0;
            for (auto const& page : pages)
                applied += store.apply_page(page, all, now).applied;
            m.done(
                fmt::format("{} events ({} applied) in {} pages", events, applied, pages.size()));
        }
        db.exec("DROP SCHEMA dirsyncd_bench CASCADE");
    } catch (std::exception const& e) {
        std::cerr << "dirsync-bench-pg-store: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
