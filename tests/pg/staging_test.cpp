// A full sync through the PostgreSQL staging and merge: the cases of
// tests/unit/mirror_store_test.cpp (first merge, no-op resync, changed row, objects gone
// upstream, never a membership without its ends, undecodable records kept, older snapshots,
// other directories, progress saved with each page, owners in id order), and what is particular
// to PostgreSQL: a staging emptied by a server crash (UNLOGGED) starts over.
#include "pg/merge.hpp"
#include "pg/schema.hpp"
#include "pg/staging.hpp"
#include "pg_server.hpp"
#include "support/model_builders.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using store::MembershipPair;
using store::Phase;
using test::at;
using Embedded = pg::Staging::Embedded;

namespace {

class PgStagingTest : public test::PgSchemaTest {
protected:
    PgStagingTest()
        : db(test::pg_conninfo())
    {
        pg::migrate_schema(db, schema);
    }

    void stage_members_per_group(std::vector<MembershipPair> const& members)
    {
        staging.begin_memberships(dir.id, MembershipSource::per_group);
        for (auto const& owner : staging.pending_owners(dir.id, std::nullopt, 1000)) {
            std::vector<std::string> ids;
            for (auto const& m : members)
                if (m.group_id == owner.id)
                    ids.push_back(m.user_id);
            staging.stage_members(dir.id, MembershipSource::per_group, owner.id, ids, std::nullopt);
        }
        staging.finish_memberships(dir.id);
    }

    // Stages one complete snapshot of the directory and merges it.
    store::MergeResult sync(std::vector<Group> const& groups, std::vector<User> const& users,
                            std::vector<MembershipPair> const& members,
                            std::vector<std::string> const& kept_users = {})
    {
        staging.begin(dir.id, at(50));
        staging.stage_groups(dir.id, groups, {}, {Phase::users});
        staging.stage_users(dir.id, users, kept_users, Embedded::ignore, {Phase::memberships});
        stage_members_per_group(members);
        return pg::merge_directory(db, dir, {"per_group", 3}, "2026-01-01T01:00:00.000Z");
    }

    long long count(std::string const& sql) { return db.exec(sql).integer(0, 0); }
    std::string one(std::string const& sql) { return db.exec(sql).text(0, 0); }
    std::vector<std::string> changes()
    {
        auto const r =
            db.exec("SELECT entity || ' ' || entity_id || ' ' || op FROM changes ORDER BY seq");
        std::vector<std::string> out;
        for (int i = 0; i < r.rows(); ++i)
            out.push_back(r.text(i, 0));
        return out;
    }
    std::vector<std::string> changes_since(std::size_t before)
    {
        auto const all = changes();
        return {all.begin() + static_cast<std::ptrdiff_t>(before), all.end()};
    }

    pg::Connection db;
    pg::Staging staging{db};
    Directory dir = test::directory("directory_1");
};

} // namespace

TEST_F(PgStagingTest, FirstMergeInsertsEverythingAndRecordsEachChange)
{
    auto r = sync({test::group("g1", dir.id)}, {test::user("u1", dir.id), test::user("u2", dir.id)},
                  {{"u1", "g1"}});
    EXPECT_EQ(r.users.upserted, 2);
    EXPECT_EQ(r.groups.upserted, 1);
    EXPECT_EQ(r.memberships.upserted, 1);
    EXPECT_EQ(changes(), (std::vector<std::string>{"directory directory_1 upsert",
                                                   "group g1 upsert", "user u1 upsert",
                                                   "user u2 upsert", "membership u1:g1 upsert"}));
    for (auto const* t : {"staged_users", "staging_runs", "full_sync_runs", "staged_owners"})
        EXPECT_EQ(count(std::string("SELECT count(*) FROM ") + t), 0) << t;
}

TEST_F(PgStagingTest, UnchangedSecondSyncStagesNothingAndWritesNoChanges)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    auto const before = changes().size();
    staging.begin(dir.id, at(50));
    staging.stage_groups(dir.id, std::vector<Group>{test::group("g1", dir.id)}, {}, {Phase::users});
    staging.stage_users(dir.id, std::vector<User>{test::user("u1", dir.id)}, {}, Embedded::ignore,
                        {Phase::memberships});
    stage_members_per_group({{"u1", "g1"}});
    EXPECT_EQ(count("SELECT (SELECT count(*) FROM staged_users) + (SELECT count(*) FROM "
                    "staged_groups) + (SELECT count(*) FROM staged_membership_diff) + (SELECT "
                    "count(*) FROM staged_deletions)"),
              0)
        << "nothing new is staged";
    auto r = pg::merge_directory(db, dir, {"per_group", 3}, "2026-01-01T01:00:00.000Z");
    EXPECT_EQ(changes().size(), before);
    EXPECT_EQ(r.users.upserted + r.memberships.upserted + r.memberships.deleted, 0);
    EXPECT_FALSE(r.directory_changed);
}

TEST_F(PgStagingTest, ChangedRowIsUpdatedAndRecordedOnce)
{
    sync({}, {test::user("u1", dir.id, "Ana", 1), test::user("u2", dir.id)}, {});
    auto const before = changes().size();
    sync({}, {test::user("u1", dir.id, "Anna", 2), test::user("u2", dir.id)}, {});
    EXPECT_EQ(changes_since(before), std::vector<std::string>{"user u1 upsert"});
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Anna");
}

TEST_F(PgStagingTest, ObjectsGoneUpstreamAreDeletedWithTheirMemberships)
{
    sync({test::group("g1", dir.id), test::group("g2", dir.id)},
         {test::user("u1", dir.id), test::user("u2", dir.id)},
         {{"u1", "g1"}, {"u2", "g2"}, {"u1", "g2"}});
    auto const before = changes().size();
    auto r = sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    EXPECT_EQ(r.users.deleted, 1);
    EXPECT_EQ(r.groups.deleted, 1);
    EXPECT_EQ(r.memberships.deleted, 2);
    EXPECT_EQ(changes_since(before),
              (std::vector<std::string>{"membership u1:g2 delete", "membership u2:g2 delete",
                                        "user u2 delete", "group g2 delete"}));
}

TEST_F(PgStagingTest, APassedOverUserBetweenTwoPagesIsFoundGone)
{
    sync({}, {test::user("u1", dir.id), test::user("u2", dir.id), test::user("u3", dir.id)}, {});
    staging.begin(dir.id, at(50));
    staging.stage_groups(dir.id, {}, {}, {Phase::users});
    staging.stage_users(dir.id, std::vector<User>{test::user("u1", dir.id)}, {}, Embedded::ignore,
                        {Phase::users, "u1"});
    staging.stage_users(dir.id, std::vector<User>{test::user("u3", dir.id)}, {}, Embedded::ignore,
                        {Phase::users, "u3"});
    EXPECT_EQ(staging.pending_deletions(dir.id).users, 1);
    EXPECT_EQ(staging.load(dir.id)->listed_users, 2);
    // u2 turns up late after all (a page out of order): not gone
    staging.stage_users(dir.id, std::vector<User>{test::user("u2", dir.id)}, {}, Embedded::ignore,
                        {Phase::users, "u4"});
    EXPECT_EQ(staging.pending_deletions(dir.id).users, 0);
    staging.stage_users(dir.id, {}, {}, Embedded::ignore, {Phase::memberships});
    EXPECT_EQ(staging.pending_deletions(dir.id).users, 0);
    stage_members_per_group({});
    EXPECT_EQ(
        pg::merge_directory(db, dir, {"per_group", 3}, "2026-01-01T01:00:00.000Z").users.deleted,
        0);
}

TEST_F(PgStagingTest, MembershipWhoseUserOrGroupWasNotListedIsNeverInserted)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)},
         {{"u1", "g1"}, {"u_new", "g1"}, {"u1", "g_new"}});
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 1);
}

TEST_F(PgStagingTest, EmbeddedGroupsOfLegacyDirectoriesAreStagedAsADifference)
{
    sync({test::group("g1", dir.id), test::group("g2", dir.id)}, {test::user("u1", dir.id)},
         {{"u1", "g1"}});
    auto u1 = test::user("u1", dir.id);
    u1.embedded_group_ids = {"g2", "g2"};
    staging.begin(dir.id, at(50));
    staging.stage_groups(dir.id, {}, {}, {Phase::groups, "g0"});
    staging.stage_groups(dir.id,
                         std::vector<Group>{test::group("g1", dir.id), test::group("g2", dir.id)},
                         {}, {Phase::users});
    staging.stage_users(dir.id, std::vector<User>{u1}, {}, Embedded::stage, {Phase::done});
    EXPECT_EQ(one("SELECT string_agg(user_id || ':' || group_id || ' ' || op, ', ' ORDER BY "
                  "group_id) FROM staged_membership_diff"),
              "u1:g1 delete, u1:g2 add");
    auto r = pg::merge_directory(db, dir, {"per_user", 1}, "2026-01-01T01:00:00.000Z");
    EXPECT_EQ(r.memberships.upserted, 1);
    EXPECT_EQ(r.memberships.deleted, 1);
    EXPECT_EQ(one("SELECT string_agg(user_id || ':' || group_id, ',') FROM memberships"), "u1:g2");
}

TEST_F(PgStagingTest, UndecodableRecordKeepsTheStoredCopy)
{
    sync({}, {test::user("u1", dir.id, "Ana"), test::user("u2", dir.id, "Bo")}, {});
    auto r = sync({}, {test::user("u1", dir.id, "Ana")}, {}, {"u2"});
    EXPECT_EQ(r.users.deleted, 0);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u2'"), "Bo");
}

TEST_F(PgStagingTest, OlderSnapshotNeverOverwritesANewerRow)
{
    sync({}, {test::user("u1", dir.id, "Newer", 9)}, {});
    sync({}, {test::user("u1", dir.id, "Older", 3)}, {});
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Newer");
}

TEST_F(PgStagingTest, OtherDirectoriesAreUntouched)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    dir = test::directory("directory_2");
    sync({}, {test::user("v1", dir.id)}, {});
    EXPECT_EQ(count("SELECT count(*) FROM users"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 1);
}

TEST_F(PgStagingTest, StagingProgressIsSavedWithEachPageAndReadByAnotherSession)
{
    staging.begin(dir.id, at(5));
    staging.stage_groups(dir.id, std::vector<Group>{test::group("g1", dir.id)}, {},
                         {Phase::groups, "g1"});
    // the standby that takes over reads the same run
    pg::Connection other(test::pg_conninfo());
    pg::use_schema(other, schema);
    pg::Staging resumed(other);
    auto run = resumed.load(dir.id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->started_at.text, at(5).text);
    EXPECT_EQ(run->started_at.micros, at(5).micros);
    EXPECT_EQ(run->progress.phase, Phase::groups);
    EXPECT_EQ(run->progress.cursor, "g1");
    EXPECT_EQ(run->listed_groups, 1);
    resumed.stage_groups(dir.id, {}, {}, {Phase::users});
    resumed.stage_users(dir.id, std::vector<User>{test::user("u9", dir.id)}, {}, Embedded::ignore,
                        {Phase::memberships});
    resumed.begin_memberships(dir.id, MembershipSource::per_user);
    run = staging.load(dir.id);
    EXPECT_EQ(run->progress.phase, Phase::memberships);
    EXPECT_EQ(run->strategy, "per_user");
    resumed.stage_members(dir.id, MembershipSource::per_user, "u9", std::vector<std::string>{"g1"},
                          "g1");
    EXPECT_EQ(staging.pending_owners(dir.id, std::nullopt, 10)[0].cursor, "g1");
    // a new run starts from nothing
    staging.begin(dir.id, at(6));
    EXPECT_EQ(staging.load(dir.id)->listed_groups, 0);
    EXPECT_EQ(staging.owner_progress(dir.id).first, 0);
}

TEST_F(PgStagingTest, AStagingEmptiedByAServerCrashStartsOver)
{
    staging.begin(dir.id, at(5));
    staging.stage_users(dir.id, std::vector<User>{test::user("u1", dir.id)}, {}, Embedded::ignore,
                        {Phase::users, "u1"});
    // what crash recovery does to UNLOGGED tables; full_sync_runs is logged and stays
    db.exec("TRUNCATE staging_runs, staged_users, staged_groups, staged_deletions, staged_owners, "
            "staged_membership_diff");
    EXPECT_FALSE(staging.load(dir.id).has_value());
    EXPECT_EQ(count("SELECT count(*) FROM full_sync_runs"), 0) << "the stale run is dropped";
    EXPECT_EQ(count("SELECT count(*) FROM mirror_status WHERE state = 'syncing'"), 0);
}

TEST_F(PgStagingTest, OwnersAreHandedOutInIdOrderUntilDone)
{
    staging.begin(dir.id, at(5));
    staging.stage_groups(dir.id,
                         std::vector<Group>{test::group("g3", dir.id), test::group("g1", dir.id),
                                            test::group("G2", dir.id)},
                         {}, {Phase::users});
    staging.stage_users(dir.id, {}, {}, Embedded::ignore, {Phase::memberships});
    staging.begin_memberships(dir.id, MembershipSource::per_group);
    auto ids = [&](std::optional<std::string> after, int limit) {
        std::vector<std::string> out;
        for (auto const& o : staging.pending_owners(dir.id, after, limit))
            out.push_back(o.id);
        return out;
    };
    // byte order, whatever the database's collation: "G2" < "g1"
    EXPECT_EQ(ids(std::nullopt, 2), (std::vector<std::string>{"G2", "g1"}));
    EXPECT_EQ(ids("g1", 10), (std::vector<std::string>{"g3"}));
    staging.stage_members(dir.id, MembershipSource::per_group, "g1", {}, std::nullopt);
    EXPECT_EQ(ids(std::nullopt, 10), (std::vector<std::string>{"G2", "g3"}));
    EXPECT_EQ(staging.owner_progress(dir.id), std::make_pair(std::int64_t{3}, std::int64_t{1}));
}
