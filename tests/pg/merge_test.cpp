// The merge of a staged directory into the PostgreSQL mirror: visible at once (a reader polling
// in another session sees the directory before or after, never a part, and never a membership
// without its user or group), a no-op resync rewrites nothing, events that changed or deleted
// an object during the listing win over the listing, a failed merge leaves the mirror and the
// staging as they were. The staging is written here with plain SQL, as the staging store will.
#include "pg/merge.hpp"
#include "pg/schema.hpp"
#include "pg_server.hpp"
#include "support/model_builders.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace dirsync;
using namespace std::chrono_literals;
using test::at;

namespace {

std::string const now = "2026-02-01T00:00:00.000Z";

class PgMergeTest : public test::PgSchemaTest {
protected:
    PgMergeTest()
        : db(test::pg_conninfo())
    {
        pg::migrate_schema(db, schema);
    }

    void begin_staging(std::string const& d)
    {
        db.exec("INSERT INTO full_sync_runs (directory_id, run_id, started_at) VALUES ($1, 'r1', "
                "$2)",
                {d, at(1).text});
        db.exec("INSERT INTO staging_runs (directory_id, run_id, started_at, started_at_us, "
                "phase) VALUES ($1, 'r1', $2, 0, 'done')",
                {d, at(1).text});
    }
    void stage(User const& u)
    {
        db.exec("INSERT INTO staged_users (id, directory_id, organization_id, email, first_name, "
                "state, created_at, updated_at, raw_json, updated_at_us) VALUES ($1, $2, $3, $4, "
                "$5, $6, $7, $8, $9, $10)",
                {u.id, u.directory_id, u.organization_id, u.email, u.first_name, u.state,
                 u.created_at.text, u.updated_at.text, u.raw_json,
                 std::to_string(u.updated_at.micros)});
    }
    void stage(Group const& g)
    {
        db.exec("INSERT INTO staged_groups (id, directory_id, name, created_at, updated_at, "
                "raw_json, updated_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {g.id, g.directory_id, g.name, g.created_at.text, g.updated_at.text, g.raw_json,
                 std::to_string(g.updated_at.micros)});
    }
    void stage_member(std::string const& d, std::string const& user, std::string const& group,
                      char const* op = "add")
    {
        db.exec("INSERT INTO staged_membership_diff (directory_id, group_id, user_id, op) VALUES "
                "($1, $2, $3, $4)",
                {d, group, user, op});
    }
    void stage_deletion(std::string const& d, char const* entity, std::string const& id)
    {
        db.exec("INSERT INTO staged_deletions (entity, id, directory_id) VALUES ($1, $2, $3)",
                {entity, id, d});
    }
    // A directory of `users` users in one group each of `groups`, staged whole.
    void stage_directory(std::string const& d, int users, int groups)
    {
        begin_staging(d);
        for (int g = 0; g < groups; ++g)
            stage(test::group(d + "_g" + std::to_string(g), d));
        for (int u = 0; u < users; ++u) {
            stage(test::user(d + "_u" + std::to_string(u), d));
            stage_member(d, d + "_u" + std::to_string(u), d + "_g" + std::to_string(u % groups));
        }
    }
    store::MergeResult merge(std::string const& d)
    {
        return pg::merge_directory(db, test::directory(d), {"per_group", 7}, now);
    }
    std::string one(std::string const& sql) { return db.exec(sql).text(0, 0); }
    long long count(std::string const& sql) { return db.exec(sql).integer(0, 0); }

    pg::Connection db;
    std::string const dir = "directory_1";
};

} // namespace

TEST_F(PgMergeTest, AFirstSyncAppearsWholeWithItsChangesAndOneNotification)
{
    pg::Connection app(test::pg_conninfo());
    pg::use_schema(app, schema);
    app.exec("LISTEN dirsyncd_changes");
    stage_directory(dir, 3, 2);
    EXPECT_EQ(count("SELECT count(*) FROM users"), 0) << "nothing before the merge";

    auto const r = merge(dir);
    EXPECT_TRUE(r.directory_changed);
    EXPECT_EQ(r.groups.upserted, 2);
    EXPECT_EQ(r.users.upserted, 3);
    EXPECT_EQ(r.memberships.upserted, 3);
    EXPECT_EQ(r.user_count, 3);
    EXPECT_EQ(r.membership_count, 3);
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || entity_id, ', ' ORDER BY seq) FROM changes"),
              "directory directory_1, group directory_1_g0, group directory_1_g1, user "
              "directory_1_u0, user directory_1_u1, user directory_1_u2, membership "
              "directory_1_u0:directory_1_g0, membership directory_1_u1:directory_1_g1, "
              "membership directory_1_u2:directory_1_g0");
    auto const heard = test::next_notification_from(app, db.backend_pid(), 5s);
    ASSERT_TRUE(heard.has_value());
    EXPECT_EQ(heard->payload, one("SELECT max(seq) FROM changes"));

    for (auto const* t : {"staging_runs", "staged_users", "staged_groups", "staged_membership_diff",
                          "full_sync_runs"})
        EXPECT_EQ(count(std::string("SELECT count(*) FROM ") + t), 0) << t << " is cleared";
    EXPECT_EQ(one("SELECT state || ' ' || user_count || ' ' || membership_strategy || ' ' || "
                  "request_count FROM mirror_status JOIN sync_state USING (directory_id) WHERE "
                  "directory_id = 'directory_1'"),
              "ok 3 per_group 7");
    EXPECT_EQ(one("SELECT raw_json->>'email' FROM users WHERE id = 'directory_1_u0'"),
              "Ana@example.com");
}

TEST_F(PgMergeTest, ANoOpResyncRewritesNoRowAndSaysNothing)
{
    stage_directory(dir, 20, 3);
    merge(dir);
    auto const rows_before = one("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM users");
    auto const changes_before = count("SELECT count(*) FROM changes");
    pg::Connection app(test::pg_conninfo());
    pg::use_schema(app, schema);
    app.exec("LISTEN dirsyncd_changes");

    // the same listing again: the staging finds the same rows (here: staged as they are)
    stage_directory(dir, 20, 3);
    db.exec("DELETE FROM staged_membership_diff"); // a difference of nothing
    auto const r = merge(dir);
    EXPECT_FALSE(r.directory_changed);
    EXPECT_EQ(r.users.upserted + r.groups.upserted + r.memberships.upserted, 0);
    EXPECT_EQ(count("SELECT count(*) FROM changes"), changes_before);
    EXPECT_EQ(one("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM users"), rows_before)
        << "no user row was rewritten";
    EXPECT_FALSE(test::next_notification_from(app, db.backend_pid(), 300ms).has_value());
}

TEST_F(PgMergeTest, WhatTheListingPassedOverGoesWithItsMembershipsFirst)
{
    stage_directory(dir, 4, 2);
    merge(dir);
    auto const since = one("SELECT max(seq) FROM changes");
    begin_staging(dir);
    stage_deletion(dir, "user", "directory_1_u1");
    stage_deletion(dir, "group", "directory_1_g0");
    stage_member(dir, "directory_1_u3", "directory_1_g1", "delete");
    auto const r = merge(dir);
    EXPECT_EQ(r.users.deleted, 1);
    EXPECT_EQ(r.groups.deleted, 1);
    EXPECT_EQ(r.memberships.deleted, 4); // u0:g0, u2:g0 (group gone), u1:g1 (user), u3:g1
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || op || ' ' || entity_id, ', ' ORDER BY seq) "
                  "FROM changes WHERE seq > " +
                  since),
              "membership delete directory_1_u3:directory_1_g1, membership delete "
              "directory_1_u0:directory_1_g0, membership delete directory_1_u1:directory_1_g1, "
              "membership delete directory_1_u2:directory_1_g0, user delete directory_1_u1, group "
              "delete directory_1_g0");
    EXPECT_EQ(count("SELECT count(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users u "
                    "WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
                    "m.group_id)"),
              0);
}

TEST_F(PgMergeTest, WhatEventsChangedOrDeletedDuringTheListingWins)
{
    stage_directory(dir, 2, 1);
    merge(dir);
    begin_staging(dir);
    // the listing saw u0 as it was and u1 before its deletion; meanwhile events updated u0 and
    // deleted u1 (a tombstone), and removed u0 from g0
    stage(test::user("directory_1_u0", dir, "Listed", 2));
    stage(test::user("directory_1_u9", dir, "Deleted", 2));
    stage_member(dir, "directory_1_u0", "directory_1_g0", "delete");
    db.exec("INSERT INTO resync_touched (entity, entity_id, directory_id) VALUES ('user', "
            "'directory_1_u0', $1), ('membership', 'directory_1_u0:directory_1_g0', $1)",
            {dir});
    db.exec("INSERT INTO tombstones (entity, id, directory_id, updated_at_us, deleted_at) VALUES "
            "('user', 'directory_1_u9', $1, $2, $3)",
            {dir, std::to_string(at(3).micros), now});
    auto const r = merge(dir);
    EXPECT_EQ(r.users.upserted, 0);
    EXPECT_EQ(r.memberships.deleted, 0);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'directory_1_u0'"), "Ana");
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'directory_1_u9'"), 0)
        << "a deleted user does not come back with the listing";
    EXPECT_EQ(count("SELECT count(*) FROM memberships WHERE user_id = 'directory_1_u0'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM resync_touched"), 0) << "cleared with the staging";
}

TEST_F(PgMergeTest, AnOlderStagedCopyNeverOverwritesANewerRow)
{
    begin_staging(dir);
    stage(test::user("u1", dir, "Newer", 9));
    merge(dir);
    begin_staging(dir);
    stage(test::user("u1", dir, "Older", 4));
    EXPECT_EQ(merge(dir).users.upserted, 0);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Newer");
}

TEST_F(PgMergeTest, AReaderPollingMeanwhileSeesEachDirectoryWholeAndNoDanglingMembership)
{
    constexpr int users = 1500;
    std::atomic<bool> done{false};
    std::set<long long> seen_users;
    long long dangling = 0, polls = 0;
    std::thread reader([&] {
        pg::Connection app(test::pg_conninfo());
        pg::use_schema(app, schema);
        while (!done) {
            // one statement: one snapshot
            auto const r = app.exec(
                "SELECT (SELECT count(*) FROM users WHERE directory_id = 'directory_1'), "
                "(SELECT count(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users u "
                "WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
                "m.group_id))");
            seen_users.insert(r.integer(0, 0));
            dangling += r.integer(0, 1);
            ++polls;
        }
    });
    stage_directory(dir, users, 10);
    merge(dir);
    // the directory's half of the users goes, and their memberships with them
    begin_staging(dir);
    for (int u = 0; u < users; u += 2)
        stage_deletion(dir, "user", dir + "_u" + std::to_string(u));
    merge(dir);
    std::this_thread::sleep_for(50ms);
    done = true;
    reader.join();
    EXPECT_GT(polls, 2);
    EXPECT_EQ(dangling, 0);
    for (auto n : seen_users)
        EXPECT_TRUE(n == 0 || n == users || n == users / 2) << n << " users seen";
    EXPECT_EQ(count("SELECT count(*) FROM users"), users / 2);
}

TEST_F(PgMergeTest, AFailedMergeLeavesTheMirrorAndTheStagingAsTheyWere)
{
    stage_directory(dir, 3, 1);
    db.exec("CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
            "EXCEPTION 'no space' USING ERRCODE = 'disk_full'; END $$");
    db.exec("CREATE TRIGGER disk_full BEFORE INSERT ON memberships FOR EACH ROW EXECUTE FUNCTION "
            "full_disk()");
    EXPECT_THROW(merge(dir), pg::Error);
    EXPECT_EQ(count("SELECT count(*) FROM users"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM changes"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM staged_users"), 3) << "kept for the retry";
    db.exec("DROP TRIGGER disk_full ON memberships");
    EXPECT_EQ(merge(dir).membership_count, 3);
    EXPECT_THROW(merge(dir), std::logic_error) << "no staging run left";
}

TEST_F(PgMergeTest, DeletingADirectoryRecordsEveryRowAndClearsItsStaging)
{
    stage_directory(dir, 2, 1);
    merge(dir);
    begin_staging(dir);
    stage(test::user("staged_only", dir));
    auto const since = one("SELECT max(seq) FROM changes");
    EXPECT_TRUE(pg::delete_directory(db, dir, now));
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || entity_id, ', ' ORDER BY seq) FROM changes "
                  "WHERE seq > " +
                  since),
              "membership directory_1_u0:directory_1_g0, membership "
              "directory_1_u1:directory_1_g0, user directory_1_u0, user directory_1_u1, group "
              "directory_1_g0, directory directory_1");
    for (auto const* t : {"directories", "users", "staged_users", "staging_runs", "sync_state"})
        EXPECT_EQ(count(std::string("SELECT count(*) FROM ") + t), 0) << t;
    EXPECT_FALSE(pg::delete_directory(db, dir, now)) << "not mirrored any more";
}
