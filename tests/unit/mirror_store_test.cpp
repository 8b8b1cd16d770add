#include "store/database.hpp"
#include "store/mirror_store.hpp"
#include "support/model_builders.hpp"
#include "support/temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::store;
using test::at;

namespace {

// Stages the memberships of every group the listings found, from `members` (user, group).
void stage_members_per_group(MirrorStore& store, std::string const& dir,
                             std::vector<MembershipPair> const& members)
{
    store.begin_memberships(dir, MembershipSource::per_group);
    for (auto const& owner : store.pending_owners(dir, std::nullopt, 1000)) {
        std::vector<std::string> ids;
        for (auto const& m : members)
            if (m.group_id == owner.id)
                ids.push_back(m.user_id);
        store.stage_members(dir, MembershipSource::per_group, owner.id, ids, std::nullopt);
    }
    store.finish_memberships(dir);
}

class MirrorStoreTest : public ::testing::Test {
protected:
    std::unique_ptr<Database> db = open_database(":memory:");
    MirrorStore store{*db};
    Directory dir = test::directory("directory_1");

    // Stages one complete snapshot of the directory and merges it.
    MergeResult sync(std::vector<Group> const& groups, std::vector<User> const& users,
                     std::vector<MembershipPair> const& members,
                     std::vector<std::string> const& kept_users = {})
    {
        store.begin_staging(dir.id, at(50));
        store.stage_groups(dir.id, groups, {}, {Phase::users});
        store.stage_users(dir.id, users, kept_users, MirrorStore::Embedded::ignore,
                          {Phase::memberships});
        stage_members_per_group(store, dir.id, members);
        return store.merge_directory(dir, {"per_group", 3}, "2026-01-01T01:00:00.000Z");
    }

    int count(std::string const& sql) { return db->execAndGet(sql).getInt(); }
    std::vector<std::string> changes()
    {
        SQLite::Statement q(*db, "SELECT entity || ' ' || entity_id || ' ' || op FROM changes "
                                 "ORDER BY seq");
        std::vector<std::string> out;
        while (q.executeStep())
            out.push_back(q.getColumn(0).getString());
        return out;
    }
};

} // namespace

TEST_F(MirrorStoreTest, FirstMergeInsertsEverythingAndRecordsEachChange)
{
    auto r = sync({test::group("g1", dir.id)}, {test::user("u1", dir.id), test::user("u2", dir.id)},
                  {{"u1", "g1"}});
    EXPECT_EQ(r.users.upserted, 2);
    EXPECT_EQ(r.groups.upserted, 1);
    EXPECT_EQ(r.memberships.upserted, 1);
    EXPECT_EQ(r.user_count, 2);
    EXPECT_EQ(changes(), (std::vector<std::string>{"directory directory_1 upsert",
                                                   "group g1 upsert", "user u1 upsert",
                                                   "user u2 upsert", "membership u1:g1 upsert"}));
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE email = 'ANA@example.com' COLLATE NOCASE"),
              2);
    EXPECT_EQ(db->execAndGet("SELECT membership_strategy FROM sync_state").getString(),
              "per_group");
    // staging is emptied by the merge
    EXPECT_EQ(count("SELECT COUNT(*) FROM staging.staged_users"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM staging.runs"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM full_sync_runs"), 0);
}

TEST_F(MirrorStoreTest, UnchangedSecondSyncWritesNoChanges)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    auto const before = changes().size();
    auto r = sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    EXPECT_EQ(changes().size(), before);
    EXPECT_EQ(r.users.upserted, 0);
    EXPECT_EQ(r.memberships.upserted + r.memberships.deleted, 0);
    EXPECT_FALSE(r.directory_changed);
}

TEST_F(MirrorStoreTest, ChangedRowIsUpdatedAndRecordedOnce)
{
    sync({}, {test::user("u1", dir.id, "Ana", 1), test::user("u2", dir.id)}, {});
    auto const before = changes().size();
    sync({}, {test::user("u1", dir.id, "Anna", 2), test::user("u2", dir.id)}, {});
    auto const all = changes();
    ASSERT_EQ(all.size(), before + 1);
    EXPECT_EQ(all.back(), "user u1 upsert");
    EXPECT_EQ(db->execAndGet("SELECT first_name FROM users WHERE id = 'u1'").getString(), "Anna");
}

TEST_F(MirrorStoreTest, ObjectsGoneUpstreamAreDeletedWithTheirMemberships)
{
    sync({test::group("g1", dir.id), test::group("g2", dir.id)},
         {test::user("u1", dir.id), test::user("u2", dir.id)},
         {{"u1", "g1"}, {"u2", "g2"}, {"u1", "g2"}});
    auto const before = changes().size();
    auto r = sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    EXPECT_EQ(r.users.deleted, 1);
    EXPECT_EQ(r.groups.deleted, 1);
    EXPECT_EQ(r.memberships.deleted, 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 1);
    auto const all = changes();
    std::vector<std::string> const tail(all.begin() + static_cast<std::ptrdiff_t>(before),
                                        all.end());
    EXPECT_EQ(tail, (std::vector<std::string>{"membership u1:g2 delete", "membership u2:g2 delete",
                                              "user u2 delete", "group g2 delete"}));
}

TEST_F(MirrorStoreTest, MembershipWhoseUserOrGroupWasNotListedIsNeverInserted)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)},
         {{"u1", "g1"}, {"u_new", "g1"}, {"u1", "g_new"}});
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users u "
                    "WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
                    "m.group_id)"),
              0);
}

TEST_F(MirrorStoreTest, UndecodableRecordKeepsTheStoredCopy)
{
    sync({}, {test::user("u1", dir.id, "Ana"), test::user("u2", dir.id, "Bo")}, {});
    // u2 came back but could not be decoded: neither deleted nor changed
    auto r = sync({}, {test::user("u1", dir.id, "Ana")}, {}, {"u2"});
    EXPECT_EQ(r.users.deleted, 0);
    EXPECT_EQ(db->execAndGet("SELECT first_name FROM users WHERE id = 'u2'").getString(), "Bo");
}

TEST_F(MirrorStoreTest, OlderSnapshotNeverOverwritesANewerRow)
{
    sync({}, {test::user("u1", dir.id, "Newer", 9)}, {});
    sync({}, {test::user("u1", dir.id, "Older", 3)}, {});
    EXPECT_EQ(db->execAndGet("SELECT first_name FROM users WHERE id = 'u1'").getString(), "Newer");
}

TEST_F(MirrorStoreTest, OtherDirectoriesAreUntouched)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    dir = test::directory("directory_2");
    sync({}, {test::user("v1", dir.id)}, {});
    EXPECT_EQ(count("SELECT COUNT(*) FROM users"), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 1);
}

TEST_F(MirrorStoreTest, DeleteDirectoryRemovesEverythingUnderItAndRecordsIt)
{
    sync({test::group("g1", dir.id)}, {test::user("u1", dir.id)}, {{"u1", "g1"}});
    auto const before = changes().size();
    EXPECT_TRUE(store.delete_directory(dir.id, "2026-01-02T00:00:00.000Z"));
    for (auto const* t : {"directories", "users", "groups", "memberships", "sync_state"})
        EXPECT_EQ(count(std::string("SELECT COUNT(*) FROM ") + t), 0) << t;
    auto const all = changes();
    std::vector<std::string> const tail(all.begin() + static_cast<std::ptrdiff_t>(before),
                                        all.end());
    EXPECT_EQ(tail, (std::vector<std::string>{"membership u1:g1 delete", "user u1 delete",
                                              "group g1 delete", "directory directory_1 delete"}));
    EXPECT_FALSE(store.delete_directory(dir.id, "2026-01-02T00:00:00.000Z"));
}

TEST_F(MirrorStoreTest, StagingProgressIsSavedWithEachPage)
{
    store.begin_staging(dir.id, at(5));
    store.stage_groups(dir.id, std::vector<Group>{test::group("g1", dir.id)}, {},
                       {Phase::groups, "g1"});
    auto run = store.load_staging(dir.id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->started_at.text, at(5).text);
    EXPECT_EQ(run->progress.phase, Phase::groups);
    EXPECT_EQ(run->progress.cursor, "g1");
    EXPECT_EQ(run->listed_groups, 1);
    store.stage_groups(dir.id, {}, {}, {Phase::users});
    store.stage_users(dir.id, std::vector<User>{test::user("u9", dir.id)}, {},
                      MirrorStore::Embedded::ignore, {Phase::memberships});
    store.begin_memberships(dir.id, MembershipSource::per_user);
    run = store.load_staging(dir.id);
    EXPECT_EQ(run->progress.phase, Phase::memberships);
    EXPECT_EQ(run->strategy, "per_user");
    store.stage_members(dir.id, MembershipSource::per_user, "u9", std::vector<std::string>{"g1"},
                        "g1");
    EXPECT_EQ(store.pending_owners(dir.id, std::nullopt, 10)[0].cursor, "g1");
    // a new run starts from nothing
    store.begin_staging(dir.id, at(6));
    EXPECT_EQ(store.load_staging(dir.id)->listed_groups, 0);
    EXPECT_EQ(store.owner_progress(dir.id).first, 0);
}

TEST_F(MirrorStoreTest, OwnersAreHandedOutInIdOrderUntilDone)
{
    store.begin_staging(dir.id, at(5));
    store.stage_groups(dir.id,
                       std::vector<Group>{test::group("g3", dir.id), test::group("g1", dir.id),
                                          test::group("g2", dir.id)},
                       {}, {Phase::users});
    store.stage_users(dir.id, {}, {}, MirrorStore::Embedded::ignore, {Phase::memberships});
    store.begin_memberships(dir.id, MembershipSource::per_group);
    auto ids = [&](std::optional<std::string> after, int limit) {
        std::vector<std::string> out;
        for (auto const& o : store.pending_owners(dir.id, after, limit))
            out.push_back(o.id);
        return out;
    };
    EXPECT_EQ(ids(std::nullopt, 2), (std::vector<std::string>{"g1", "g2"}));
    EXPECT_EQ(ids("g2", 10), (std::vector<std::string>{"g3"}));
    store.stage_members(dir.id, MembershipSource::per_group, "g2", {}, std::nullopt);
    EXPECT_EQ(ids(std::nullopt, 10), (std::vector<std::string>{"g1", "g3"}));
    EXPECT_EQ(store.owner_progress(dir.id), std::make_pair(std::int64_t{3}, std::int64_t{1}));
}

TEST(MirrorStoreVisibility, ReadersSeeTheDirectoryBeforeOrAfterNeverHalfSynced)
{
    test::TempDir tmp;
    auto const path = tmp.file("mirror.db");
    auto db = open_database(path);
    MirrorStore store(*db);
    auto const dir = test::directory("directory_1");

    SQLite::Database reader(path, SQLite::OPEN_READONLY);
    auto users = [&] { return reader.execAndGet("SELECT COUNT(*) FROM users").getInt(); };

    store.begin_staging(dir.id, at(1));
    store.stage_groups(dir.id, std::vector<Group>{test::group("g1", dir.id)}, {}, {Phase::users});
    for (int page = 0; page < 3; ++page) {
        std::vector<User> batch;
        for (int i = 0; i < 100; ++i)
            batch.push_back(test::user("u" + std::to_string(page * 100 + i), dir.id));
        store.stage_users(dir.id, batch, {}, MirrorStore::Embedded::ignore, {Phase::users, "c"});
        EXPECT_EQ(users(), 0) << "staged pages must not be visible";
    }
    // a reader holding a snapshot during the merge keeps seeing the old state
    SQLite::Transaction snapshot(reader);
    EXPECT_EQ(users(), 0);
    store.merge_directory(dir, {"per_group", 4}, "2026-01-01T00:00:00.000Z");
    EXPECT_EQ(users(), 0);
    snapshot.commit();
    EXPECT_EQ(users(), 300);
}

TEST_F(MirrorStoreTest, MembershipPagesCountTheExtraPagesOfLargeGroupsAndUsers)
{
    EXPECT_FALSE(store.membership_pages(dir.id)) << "not mirrored yet";
    // u1 is in 250 groups (3 pages of its groups), u2 in one; g0 has both (1 page)
    std::vector<Group> groups;
    std::vector<MembershipPair> members;
    for (int i = 0; i < 250; ++i) {
        groups.push_back(test::group("g" + std::to_string(i), dir.id));
        members.push_back({"u1", groups.back().id});
    }
    members.push_back({"u2", "g0"});
    sync(groups, {test::user("u1", dir.id), test::user("u2", dir.id), test::user("u3", dir.id)},
         members);
    auto const pages = store.membership_pages(dir.id);
    ASSERT_TRUE(pages);
    EXPECT_EQ(pages->users, 3);
    EXPECT_EQ(pages->groups, 250);
    EXPECT_DOUBLE_EQ(pages->per_user, 3 + 2); // u1's two extra pages; u3 with none takes one
    EXPECT_DOUBLE_EQ(pages->per_group, 250);
}
