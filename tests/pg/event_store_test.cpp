// The event stream into the PostgreSQL mirror: the guarantees of tests/unit/event_store_test.cpp
// (newer wins, never resurrect, applied twice is a no-op, the cursor commits with its page, a
// poison event quarantined alone), and the NOTIFY that announces a page's changes after commit.
#include "decode/events.hpp"
#include "pg/event_store.hpp"
#include "pg/schema.hpp"
#include "pg_server.hpp"
#include "support/model_builders.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace dirsync;
using namespace std::chrono_literals;
using test::at;

namespace {

std::string const now = "2026-02-01T00:00:00.000Z";

class PgEventStoreTest : public test::PgSchemaTest {
protected:
    PgEventStoreTest()
        : db(test::pg_conninfo())
    {
        pg::migrate_schema(db, schema);
    }

    void SetUp() override
    {
        // a mirrored directory with u1 in g1
        mirror_directory(dir);
        MembershipEvent m{dir, test::user("u1", dir), test::group("g1", dir)};
        auto r = apply({event("dsync.group.user_added", m)});
        ASSERT_EQ(r.applied, 1);
        ASSERT_EQ(count("SELECT count(*) FROM memberships"), 1);
    }

    void mirror_directory(std::string const& id)
    {
        db.exec("INSERT INTO directories (id, organization_id, name, state, created_at, "
                "updated_at, raw_json, updated_at_us) VALUES ($1, 'org_1', 'Acme', 'linked', "
                "$2, $2, '{}', 0)",
                {id, now});
    }
    // A full sync of the directory in progress (its first when it is not mirrored).
    void begin_full_sync(std::string const& id)
    {
        db.exec("INSERT INTO full_sync_runs (directory_id, run_id, started_at) VALUES ($1, 'run', "
                "$2)",
                {id, now});
    }

    Event event(std::string type, EventPayload payload, std::string directory = "")
    {
        auto const kind = decode::event_kind(type);
        return Event{"event_" + std::to_string(100 + next_id++), std::move(type),   kind, at(30),
                     directory.empty() ? dir : directory,        std::move(payload)};
    }
    store::EventPageResult apply(std::vector<EventPage::Item> items)
    {
        return events.apply_page(items, all, now);
    }
    std::string one(std::string const& sql) { return db.exec(sql).text(0, 0); }
    long long count(std::string const& sql) { return db.exec(sql).integer(0, 0); }
    long long changes() { return count("SELECT count(*) FROM changes"); }

    pg::Connection db;
    pg::EventStore events{db};
    std::string const dir = "directory_1";
    int next_id = 0;
    store::ScopeFilter all = [](std::string const&, std::optional<std::string> const&) {
        return true;
    };
};

} // namespace

TEST_F(PgEventStoreTest, UserCreatedUpdatedDeleted)
{
    auto r = apply({event("dsync.user.created", test::user("u2", dir, "Bo", 2))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u2'"), "Bo");
    EXPECT_EQ(one("SELECT raw_json->>'first_name' FROM users WHERE id = 'u2'"), "Bo");
    apply({event("dsync.user.updated", test::user("u2", dir, "Bob", 3))});
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u2'"), "Bob");
    EXPECT_EQ(one("SELECT id FROM users WHERE lower(email) = lower('BOB@example.com')"), "u2");
    apply({event("dsync.user.deleted", test::user("u1", dir, "Ana", 4))});
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'u1'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM memberships WHERE user_id = 'u1'"), 0);
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || op || ' ' || entity_id, ', ' ORDER BY seq) "
                  "FROM (SELECT * FROM changes ORDER BY seq DESC LIMIT 2) last"),
              "membership delete u1:g1, user delete u1")
        << "the membership goes first, as in the SQLite mirror";
}

TEST_F(PgEventStoreTest, AppliedTwiceChangesNothingTheSecondTime)
{
    auto const e = event("dsync.user.updated", test::user("u1", dir, "Ann", 5));
    apply({e});
    auto const after_first = changes();
    auto r = apply({e});
    EXPECT_EQ(r.applied, 0);
    EXPECT_EQ(r.unchanged, 1);
    EXPECT_EQ(changes(), after_first);
}

TEST_F(PgEventStoreTest, TheSameObjectWithItsKeysInAnotherOrderIsNotNew)
{
    auto u = test::user("u1", dir, "Ann", 5);
    apply({event("dsync.user.updated", u)});
    auto const before = changes();
    u.raw_json = R"({"updated_at": ")" + u.updated_at.text + R"(", )" + u.raw_json.substr(1);
    auto r = apply({event("dsync.user.updated", u)});
    EXPECT_EQ(r.unchanged, 1) << "jsonb compares values, not text";
    EXPECT_EQ(changes(), before);
}

TEST_F(PgEventStoreTest, AnOlderEventNeverOverwritesANewerRow)
{
    apply({event("dsync.user.updated", test::user("u1", dir, "Newer", 9))});
    auto r = apply({event("dsync.user.updated", test::user("u1", dir, "Older", 4))});
    EXPECT_EQ(r.unchanged, 1);
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Newer");
}

TEST_F(PgEventStoreTest, ADeletedUserIsNotBroughtBackByALateCopy)
{
    apply({event("dsync.user.deleted", test::user("u1", dir, "Ana", 6))});
    apply({event("dsync.user.updated", test::user("u1", dir, "Ghost", 5))});
    MembershipEvent m{dir, test::user("u1", dir, "Ghost", 5), test::group("g1", dir)};
    apply({event("dsync.group.user_added", m)});
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'u1'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 0);
    // a copy newer than the deletion is a new life of the object
    apply({event("dsync.user.created", test::user("u1", dir, "Again", 7))});
    EXPECT_EQ(one("SELECT first_name FROM users WHERE id = 'u1'"), "Again");
}

TEST_F(PgEventStoreTest, UserAddedBeforeUserCreatedUpsertsBothEnds)
{
    MembershipEvent m{dir, test::user("u9", dir, "Early", 2), test::group("g9", dir, "New", 2)};
    auto r = apply({event("dsync.group.user_added", m),
                    event("dsync.user.created", test::user("u9", dir, "Early", 2)),
                    event("dsync.group.created", test::group("g9", dir, "New", 2))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(r.unchanged, 2);
    EXPECT_EQ(count("SELECT count(*) FROM memberships WHERE user_id = 'u9' AND group_id = 'g9'"),
              1);
}

TEST_F(PgEventStoreTest, UserRemovedAndGroupDeleted)
{
    MembershipEvent m{dir, test::user("u1", dir), test::group("g1", dir)};
    apply({event("dsync.group.user_removed", m)});
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 0);
    apply({event("dsync.group.user_added", m)});
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 1);
    apply({event("dsync.group.deleted", test::group("g1", dir, "SRE", 3))});
    EXPECT_EQ(count("SELECT count(*) FROM groups"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM memberships"), 0);
}

TEST_F(PgEventStoreTest, DirectoryDeletedRemovesEverythingUnderItInTheDocumentedOrder)
{
    apply({event("dsync.user.created", test::user("u10", dir, "Ten", 2))});
    auto const since = one("SELECT max(seq) FROM changes");
    // a late copy in the same page as the deletion does not bring a user back
    auto r = apply({event("dsync.deleted", test::directory(dir, "Acme", 9)),
                    event("dsync.user.updated", test::user("u1", dir, "Late", 3))});
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(r.skipped, 1);
    for (auto const* t : {"directories", "users", "groups", "memberships", "sync_state"})
        EXPECT_EQ(count(std::string("SELECT count(*) FROM ") + t), 0) << t;
    EXPECT_EQ(count("SELECT count(*) FROM mirror_status WHERE directory_id = '" + dir + "'"), 0)
        << "gone from mirror_status too";
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || entity_id, ', ' ORDER BY seq) FROM changes "
                  "WHERE seq > " +
                  since),
              "membership u1:g1, user u1, user u10, group g1, directory directory_1");
    // a late event of the deleted directory does not bring it back
    r = apply({event("dsync.user.updated", test::user("u1", dir, "Late", 3))});
    EXPECT_EQ(count("SELECT count(*) FROM users"), 0);
    EXPECT_EQ(r.directories_to_sync, std::vector<std::string>{dir})
        << "an in-scope directory not mirrored is handed back for a full sync";
}

TEST_F(PgEventStoreTest, ActivatedAndUnknownDirectoriesAreHandedBackForAFullSync)
{
    auto r = apply(
        {event("dsync.activated", test::directory("directory_new"), "directory_new"),
         event("dsync.user.created", test::user("x1", "directory_other"), "directory_other")});
    EXPECT_EQ(r.directories_to_sync,
              (std::vector<std::string>{"directory_new", "directory_other"}));
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'x1'"), 0);
}

TEST_F(PgEventStoreTest, OutOfScopeEventsAreSkippedButMoveTheCursor)
{
    store::ScopeFilter none = [](std::string const&, std::optional<std::string> const&) {
        return false;
    };
    auto const skipped = event("dsync.user.created", test::user("u5", dir));
    std::vector<EventPage::Item> items{skipped};
    auto r = events.apply_page(items, none, now);
    EXPECT_EQ(r.skipped, 1);
    EXPECT_EQ(events.load_position()->cursor, skipped.id);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'u5'"), 0);
}

TEST_F(PgEventStoreTest, PoisonEventIsQuarantinedAndTheCursorMovesOn)
{
    RejectedEvent bad{"event_bad", "dsync.user.created", "field 'id' is missing",
                      std::string("{\"a\":\"\0\"}", 9)};
    auto const good = event("dsync.user.created", test::user("u7", dir));
    auto r = apply({bad, good});
    EXPECT_EQ(r.quarantined, 1);
    EXPECT_EQ(r.applied, 1);
    EXPECT_EQ(events.quarantined_count(), 1);
    EXPECT_EQ(one("SELECT reason FROM quarantined_events"), "field 'id' is missing");
    EXPECT_EQ(one("SELECT raw_json FROM quarantined_events"), "{\"a\":\"\\u0000\"}")
        << "kept whole, the NUL byte written out";
    EXPECT_EQ(events.load_position()->cursor, good.id);
}

TEST_F(PgEventStoreTest, AnEventTheServerRefusesIsQuarantinedAloneAndItsPageKept)
{
    db.exec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
            "EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END $$");
    db.exec("CREATE TRIGGER poison BEFORE INSERT ON users FOR EACH ROW WHEN (NEW.id = 'u_bad') "
            "EXECUTE FUNCTION refuse()");
    auto const before = changes();
    auto const first = event("dsync.user.created", test::user("u_a", dir));
    auto const bad = event("dsync.user.created", test::user("u_bad", dir));
    auto nul = test::user("u_nul", dir, std::string("A\0B", 3));
    auto const with_nul = event("dsync.user.created", nul);
    auto const last = event("dsync.user.created", test::user("u_b", dir));
    auto r = apply({first, bad, with_nul, last});
    EXPECT_EQ(r.applied, 2);
    EXPECT_EQ(r.quarantined, 2);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id IN ('u_a', 'u_b')"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id IN ('u_bad', 'u_nul')"), 0);
    EXPECT_EQ(changes(), before + 2) << "the first attempt at the page left nothing behind";
    EXPECT_EQ(count("SELECT count(*) FROM quarantined_events WHERE event_id = '" + bad.id +
                    "' AND reason LIKE '%refused%'"),
              1);
    EXPECT_EQ(count("SELECT count(*) FROM quarantined_events WHERE event_id = '" + with_nul.id +
                    "' AND reason LIKE '%NUL byte%'"),
              1);
    EXPECT_EQ(events.load_position()->cursor, last.id);
}

TEST_F(PgEventStoreTest, TheCursorIsSavedWithThePageOrNotAtAll)
{
    events.restart_stream("2026-01-01T00:00:00.000Z", now);
    EXPECT_FALSE(events.load_position()->cursor);
    EXPECT_EQ(events.load_position()->range_start, "2026-01-01T00:00:00.000Z");
    auto const first = event("dsync.user.created", test::user("u3", dir));
    apply({first});
    EXPECT_EQ(events.load_position()->cursor, first.id);
    EXPECT_EQ(events.load_position()->cursor_created_at, at(30).text);

    // A page the server cannot write whole (its disk fills up at the second event) leaves
    // neither its cursor nor its first event behind: it is retried as a whole.
    db.exec("CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
            "EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$");
    db.exec("CREATE TRIGGER disk_full BEFORE INSERT ON users FOR EACH ROW WHEN (NEW.id = 'u4') "
            "EXECUTE FUNCTION full_disk()");
    auto const small = event("dsync.user.created", test::user("u9", dir, "Small", 2));
    auto const full = event("dsync.user.created", test::user("u4", dir, "Big", 2));
    EXPECT_THROW(apply({small, full}), pg::Error);
    EXPECT_EQ(events.load_position()->cursor, first.id);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id IN ('u4', 'u9')"), 0);
    EXPECT_EQ(events.quarantined_count(), 0) << "a full disk is not a poison event";
    db.exec("DROP TRIGGER disk_full ON users");
    EXPECT_EQ(apply({small, full}).applied, 2) << "the session is usable after the failure";
}

TEST_F(PgEventStoreTest, EventsOfADirectoryInItsFirstSyncGoToStaging)
{
    auto const fresh = std::string("directory_2");
    begin_full_sync(fresh);
    auto r = apply({event("dsync.user.created", test::user("v1", fresh, "New", 2), fresh),
                    event("dsync.group.created", test::group("h1", fresh, "Ops", 2), fresh),
                    event("dsync.group.user_added",
                          MembershipEvent{fresh, test::user("v1", fresh, "New", 2),
                                          test::group("h1", fresh, "Ops", 2)},
                          fresh),
                    event("dsync.user.created", test::user("v2", fresh, "Gone", 2), fresh),
                    event("dsync.user.deleted", test::user("v2", fresh, "Gone", 3), fresh)});
    EXPECT_EQ(r.applied, 5);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE directory_id = 'directory_2'"), 0)
        << "nothing of the directory is visible before its merge";
    EXPECT_EQ(one("SELECT string_agg(id || ' ' || first_name, ', ' ORDER BY id) FROM "
                  "staged_users"),
              "v1 New");
    EXPECT_EQ(one("SELECT user_id || ':' || group_id || ' ' || op FROM staged_membership_diff"),
              "v1:h1 add");
    EXPECT_EQ(count("SELECT count(*) FROM changes WHERE directory_id = 'directory_2'"), 0)
        << "the merge records them";
    EXPECT_EQ(count("SELECT count(*) FROM tombstones WHERE id = 'v2'"), 1);
}

TEST_F(PgEventStoreTest, EventsDuringAResyncAreMarkedSoThatTheMergeLeavesThemAlone)
{
    begin_full_sync(dir);
    MembershipEvent added{dir, test::user("u2", dir, "New", 2), test::group("g1", dir)};
    MembershipEvent removed{dir, test::user("u1", dir), test::group("g1", dir)};
    apply({event("dsync.user.created", test::user("u2", dir, "New", 2)),
           event("dsync.group.user_added", added), event("dsync.group.user_removed", removed)});
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE id = 'u2'"), 1) << "live at once";
    EXPECT_EQ(one("SELECT string_agg(entity || ' ' || entity_id, ', ' ORDER BY entity, "
                  "entity_id) FROM resync_touched"),
              "membership u1:g1, membership u2:g1, user u2");
}

TEST_F(PgEventStoreTest, ACommittedPageIsAnnouncedOnceWithItsHighestSeq)
{
    pg::Connection app(test::pg_conninfo());
    pg::use_schema(app, schema);
    app.exec("LISTEN dirsyncd_changes");
    apply({event("dsync.user.created", test::user("u2", dir, "Bo", 2)),
           event("dsync.user.created", test::user("u3", dir, "Cy", 2))});
    auto const heard = test::next_notification_from(app, db.backend_pid(), 5s);
    ASSERT_TRUE(heard.has_value());
    EXPECT_EQ(heard->payload, one("SELECT max(seq) FROM changes"));
    EXPECT_FALSE(test::next_notification_from(app, db.backend_pid(), 200ms).has_value())
        << "one notification per page";

    // a page that changes nothing, or fails, says nothing
    apply({event("dsync.user.created", test::user("u2", dir, "Bo", 2))});
    db.exec("CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
            "EXCEPTION 'no space' USING ERRCODE = 'disk_full'; END $$");
    db.exec("CREATE TRIGGER disk_full BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION "
            "full_disk()");
    EXPECT_THROW(apply({event("dsync.user.created", test::user("u4", dir))}), pg::Error);
    EXPECT_FALSE(test::next_notification_from(app, db.backend_pid(), 300ms).has_value());
}

TEST_F(PgEventStoreTest, PruneRemovesOldChangesInBatchesAndSeqIsNeverReused)
{
    apply({event("dsync.user.created", test::user("u2", dir, "Bo", 2))});
    db.exec("UPDATE changes SET changed_at = '2000-01-01T00:00:00.000Z'");
    auto const old = changes();
    auto const top = count("SELECT max(seq) FROM changes");
    ASSERT_GT(old, 2);
    EXPECT_EQ(events.prune("2001-01-01T00:00:00.000Z", 2), 2);
    EXPECT_EQ(changes(), old - 2);
    while (events.prune("2001-01-01T00:00:00.000Z", 2) > 0) {
    }
    EXPECT_EQ(changes(), 0);
    apply({event("dsync.user.created", test::user("u8", dir))});
    EXPECT_GT(count("SELECT min(seq) FROM changes"), top);
    EXPECT_EQ(count("SELECT max_seq FROM mirror_status WHERE directory_id = '*'"),
              count("SELECT max(seq) FROM changes"));
}
