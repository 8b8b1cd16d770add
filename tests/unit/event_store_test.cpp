#include "decode/events.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"
#include "support/model_builders.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::store;
using test::at;

namespace {

std::string const now = "2026-02-01T00:00:00.000Z";

class EventStoreTest : public ::testing::Test {
protected:
    std::unique_ptr<Database> db = open_database(":memory:");
    MirrorStore mirror{*db};
    EventStore events{*db};
    std::string const dir = "directory_1";
    int next_id = 0;
    ScopeFilter all = [](std::string const&, std::optional<std::string> const&) { return true; };

    void SetUp() override
    {
        // a mirrored directory with u1 in g1
        stage_snapshot(at(1));
        mirror.merge_directory(test::directory(dir), {"per_group", 1}, now);
    }

    // A listing of the directory that sees u1 in g1 and nothing else.
    void stage_snapshot(Timestamp const& started)
    {
        mirror.begin_staging(dir, started);
        mirror.stage_groups(dir, std::vector<Group>{test::group("g1", dir)}, {}, {Phase::users});
        auto u1 = test::user("u1", dir);
        u1.embedded_group_ids = {"g1"};
        mirror.stage_users(dir, std::vector<User>{u1}, {}, MirrorStore::Embedded::stage,
                           {Phase::done});
    }

    Event event(std::string type, EventPayload payload, std::string directory = "")
    {
        auto const kind = decode::event_kind(type);
        return Event{"event_" + std::to_string(100 + next_id++), std::move(type),   kind, at(30),
                     directory.empty() ? dir : directory,        std::move(payload)};
    }
    EventPageResult apply(std::vector<EventPage::Item> items)
    {
        return events.apply_page(items, all, now);
    }
    std::string one(std::string const& sql) { return db->execAndGet(sql).getString(); }
    int count(std::string const& sql) { return db->execAndGet(sql).getInt(); }
    int changes() { return count("SELECT COUNT(*) FROM changes"); }
};

} // namespace

TEST_F(EventStoreTest, UserCreatedUpdatedDeleted)
{
    auto r = apply({event("dsync.user.created", test::user("u2", dir, "Bo", 2))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u2'"), "Bo");
    apply({event("dsync.user.updated", test::user("u2", dir, "Bob", 3))});
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u2'"), "Bob");
    apply({event("dsync.user.deleted", test::user("u1", dir, "Ana", 4))});
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'u1'"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships WHERE user_id = 'u1'"), 0);
    EXPECT_EQ(one("SELECT entity || ' ' || op FROM changes ORDER BY seq DESC LIMIT 1"),
              "user delete");
}

TEST_F(EventStoreTest, AnUpdateChangesTheIndexedColumnsToo)
{
    // first name and email change together in the builder; the email is set apart (rekey)
    apply({event("dsync.user.updated", test::user("u1", dir, "Zoe", 5))});
    EXPECT_EQ(one("SELECT email FROM users WHERE id = 'u1'"), "Zoe@example.com");
    EXPECT_EQ(one("SELECT id FROM users WHERE email = 'zoe@example.com' COLLATE NOCASE"), "u1");
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE email = 'Ana@example.com'"), 0);
    auto g = test::group("g1", dir, "Platform", 5);
    apply({event("dsync.group.updated", g)});
    EXPECT_EQ(one("SELECT name FROM groups WHERE id = 'g1'"), "Platform");
    EXPECT_EQ(count("SELECT COUNT(*) FROM groups WHERE directory_id = '" + dir +
                    "' AND name = 'Platform'"),
              1);
    EXPECT_EQ(db->execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST_F(EventStoreTest, AppliedTwiceChangesNothingTheSecondTime)
{
    auto const e = event("dsync.user.updated", test::user("u1", dir, "Ann", 5));
    apply({e});
    auto const after_first = changes();
    auto r = apply({e});
    EXPECT_EQ(r.applied, 0);
    EXPECT_EQ(r.unchanged, 1);
    EXPECT_EQ(changes(), after_first);
}

TEST_F(EventStoreTest, AnOlderEventNeverOverwritesANewerRow)
{
    apply({event("dsync.user.updated", test::user("u1", dir, "Newer", 9))});
    auto r = apply({event("dsync.user.updated", test::user("u1", dir, "Older", 4))});
    EXPECT_EQ(r.unchanged, 1);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Newer");
}

TEST_F(EventStoreTest, ADeletedUserIsNotBroughtBackByALateCopy)
{
    apply({event("dsync.user.deleted", test::user("u1", dir, "Ana", 6))});
    apply({event("dsync.user.updated", test::user("u1", dir, "Ghost", 5))});
    MembershipEvent m{dir, test::user("u1", dir, "Ghost", 5), test::group("g1", dir)};
    apply({event("dsync.group.user_added", m)});
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'u1'"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 0);
}

TEST_F(EventStoreTest, UserAddedBeforeUserCreatedUpsertsBothEnds)
{
    MembershipEvent m{dir, test::user("u9", dir, "Early", 2), test::group("g9", dir, "New", 2)};
    auto r = apply({event("dsync.group.user_added", m),
                    event("dsync.user.created", test::user("u9", dir, "Early", 2)),
                    event("dsync.group.created", test::group("g9", dir, "New", 2))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(r.unchanged, 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships WHERE user_id = 'u9' AND group_id = 'g9'"),
              1);
}

TEST_F(EventStoreTest, UserRemovedAndGroupDeleted)
{
    MembershipEvent m{dir, test::user("u1", dir), test::group("g1", dir)};
    apply({event("dsync.group.user_removed", m)});
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 0);
    apply({event("dsync.group.user_added", m)});
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 1);
    apply({event("dsync.group.deleted", test::group("g1", dir, "SRE", 3))});
    EXPECT_EQ(count("SELECT COUNT(*) FROM groups"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships"), 0);
}

TEST_F(EventStoreTest, DirectoryDeletedRemovesEverythingUnderIt)
{
    // a late copy in the same page as the deletion does not bring a user back
    auto r = apply({event("dsync.deleted", test::directory(dir, "Acme", 9)),
                    event("dsync.user.updated", test::user("u1", dir, "Late", 3))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(r.skipped, 1);
    for (auto const* t : {"directories", "users", "groups", "memberships", "sync_state"})
        EXPECT_EQ(count(std::string("SELECT COUNT(*) FROM ") + t), 0) << t;
    EXPECT_EQ(count("SELECT COUNT(*) FROM mirror_status WHERE directory_id = '" + dir + "'"), 0)
        << "gone from mirror_status too";
    EXPECT_EQ(one("SELECT last_event_at FROM mirror_status WHERE directory_id = '*'"), at(30).text);
}

TEST_F(EventStoreTest, ActivatedAndUnknownDirectoriesAreHandedBackForAFullSync)
{
    auto r = apply(
        {event("dsync.activated", test::directory("directory_new"), "directory_new"),
         event("dsync.user.created", test::user("x1", "directory_other"), "directory_other")});
    EXPECT_EQ(r.directories_to_sync,
              (std::vector<std::string>{"directory_new", "directory_other"}));
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'x1'"), 0);
}

TEST_F(EventStoreTest, OutOfScopeEventsAreSkippedButMoveTheCursor)
{
    ScopeFilter none = [](std::string const&, std::optional<std::string> const&) { return false; };
    auto const skipped = event("dsync.user.created", test::user("u5", dir));
    std::vector<EventPage::Item> items{skipped};
    auto r = events.apply_page(items, none, now);
    EXPECT_EQ(r.skipped, 1);
    EXPECT_EQ(events.load_position()->cursor, skipped.id);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'u5'"), 0);
}

TEST_F(EventStoreTest, PoisonEventIsQuarantinedAndTheCursorMovesOn)
{
    RejectedEvent bad{"event_bad", "dsync.user.created", "field 'id' is missing", "{}"};
    auto const good = event("dsync.user.created", test::user("u7", dir));
    auto r = apply({bad, good});
    EXPECT_EQ(r.quarantined, 1);
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(events.quarantined_count(), 1);
    EXPECT_EQ(one("SELECT reason FROM quarantined_events"), "field 'id' is missing");
    EXPECT_EQ(events.load_position()->cursor, good.id);
}

TEST_F(EventStoreTest, AnEventTheDatabaseRefusesIsQuarantinedAloneAndItsPageKept)
{
    // The page runs without a savepoint per event; the one that fails makes it run again with
    // them, and only that event is left out.
    db->exec("CREATE TEMP TRIGGER poison BEFORE INSERT ON users WHEN NEW.id = 'u_bad' BEGIN "
             "SELECT RAISE(ABORT, 'refused'); END");
    auto const before = changes();
    auto const first = event("dsync.user.created", test::user("u_a", dir));
    auto const bad = event("dsync.user.created", test::user("u_bad", dir));
    auto const last = event("dsync.user.created", test::user("u_b", dir));
    auto r = apply({first, bad, last});
    EXPECT_EQ(r.applied, 2);
    EXPECT_EQ(r.quarantined, 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id IN ('u_a', 'u_b')"), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'u_bad'"), 0);
    EXPECT_EQ(changes(), before + 2) << "the first attempt at the page left nothing behind";
    EXPECT_EQ(count("SELECT COUNT(*) FROM quarantined_events WHERE event_id = '" + bad.id +
                    "' AND reason LIKE '%refused%'"),
              1);
    EXPECT_EQ(events.load_position()->cursor, last.id);
}

TEST_F(EventStoreTest, TheCursorIsSavedWithThePageOrNotAtAll)
{
    events.restart_stream("2026-01-01T00:00:00.000Z", now);
    EXPECT_FALSE(events.load_position()->cursor);
    EXPECT_EQ(events.load_position()->range_start, "2026-01-01T00:00:00.000Z");
    auto const first = event("dsync.user.created", test::user("u3", dir));
    apply({first});
    EXPECT_EQ(events.load_position()->cursor, first.id);
    EXPECT_EQ(events.load_position()->cursor_created_at, at(30).text);

    // A page that cannot be written whole (the database fills up at its second event) leaves
    // neither its cursor nor its first event behind: it is retried as a whole.
    auto big = test::user("u4", dir, "Big", 2);
    big.raw_json = std::string(256 * 1024, 'x');
    auto const small = event("dsync.user.created", test::user("u9", dir, "Small", 2));
    auto const full = event("dsync.user.created", big);
    db->exec("PRAGMA max_page_count = " +
             std::to_string(db->execAndGet("PRAGMA page_count").getInt() + 2));
    EXPECT_THROW(apply({small, full}), SQLite::Exception);
    EXPECT_EQ(events.load_position()->cursor, first.id);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id IN ('u4', 'u9')"), 0);
    EXPECT_EQ(events.quarantined_count(), 0) << "a full database is not a poison event";
}

TEST_F(EventStoreTest, EventsOfADirectoryInItsFirstSyncGoToStaging)
{
    auto const fresh = std::string("directory_2");
    mirror.begin_staging(fresh, at(1));
    mirror.stage_users(fresh, std::vector<User>{test::user("v1", fresh, "Old", 1)}, {},
                       MirrorStore::Embedded::ignore, {Phase::users, "c"});
    apply({event("dsync.user.updated", test::user("v1", fresh, "New", 2), fresh),
           event("dsync.user.created", test::user("v2", fresh, "Later", 2), fresh)});
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE directory_id = 'directory_2'"), 0)
        << "nothing of the directory is visible before its merge";
    // a later page of the listing still carrying the old copy does not win
    mirror.stage_users(fresh, std::vector<User>{test::user("v1", fresh, "Old", 1)}, {},
                       MirrorStore::Embedded::ignore, {Phase::done});
    mirror.merge_directory(test::directory(fresh), {"per_group", 1}, now);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'v1'"), "New");
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'v2'"), 1);
}

TEST_F(EventStoreTest, AFullSyncMergeLeavesAloneWhatEventsChangedDuringItsListing)
{
    // the listing begins: it sees u1 (in g1) and nothing else
    stage_snapshot(at(40));
    // meanwhile events: a user is created and added, u1 leaves g1
    MembershipEvent added{dir, test::user("u2", dir, "New", 2), test::group("g1", dir)};
    MembershipEvent removed{dir, test::user("u1", dir), test::group("g1", dir)};
    apply({event("dsync.user.created", test::user("u2", dir, "New", 2)),
           event("dsync.group.user_added", added), event("dsync.group.user_removed", removed)});
    mirror.merge_directory(test::directory(dir), {"per_group", 1}, now);
    EXPECT_EQ(count("SELECT COUNT(*) FROM users WHERE id = 'u2'"), 1) << "not deleted by the merge";
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships WHERE user_id = 'u2'"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM memberships WHERE user_id = 'u1'"), 0)
        << "not re-added by the merge";
}

TEST_F(EventStoreTest, PruneRemovesOldChangesInBatches)
{
    db->exec("UPDATE changes SET changed_at = '2000-01-01T00:00:00.000Z'");
    int const old = changes();
    ASSERT_GT(old, 2);
    EXPECT_EQ(events.prune("2001-01-01T00:00:00.000Z", 2), 2);
    EXPECT_EQ(changes(), old - 2);
    while (events.prune("2001-01-01T00:00:00.000Z", 2) > 0) {
    }
    EXPECT_EQ(changes(), 0);
    // seq is never reused after pruning
    apply({event("dsync.user.created", test::user("u8", dir))});
    EXPECT_GT(count("SELECT MIN(seq) FROM changes"), old);
}
