// Full syncs through the API client, in-process against the fake WorkOS API, into the
// PostgreSQL mirror (pg::MirrorStore behind lib/sync's MirrorWriter): the cases of
// tests/unit/directory_sync_test.cpp that say what the mirror must hold. Every membership
// strategy mirrors the dataset exactly; a resync after upstream changes converges and one after
// none writes nothing; an interrupted sync resumes from its last stored page, also in another
// session (a standby that takes over); a sync that would delete too much is held.
#include "pg/mirror_rows.hpp"
#include "pg/mirror_store.hpp"
#include "pg/schema.hpp"
#include "pg_server.hpp"
#include "support/failing_transport.hpp"
#include "support/fake_transport.hpp"
#include "support/pg_mirror_compare.hpp"
#include "support/run.hpp"
#include "sync/full_sync.hpp"

#include <gtest/gtest.h>

#include <memory>

using namespace dirsync;
using namespace dirsync::sync;
using namespace std::chrono_literals;

namespace {

fake::FakeOptions unlimited()
{
    fake::FakeOptions o;
    o.rate_limit = false;
    return o;
}

class PgFullSyncTest : public test::PgSchemaTest {
protected:
    PgFullSyncTest() { fresh_mirror(); }

    // A new session on an empty schema (the last one's is dropped).
    void fresh_mirror()
    {
        store.reset();
        db = std::make_unique<pg::Connection>(test::pg_conninfo());
        db->exec("DROP SCHEMA IF EXISTS " + db->quote_identifier(schema) + " CASCADE");
        pg::migrate_schema(*db, schema);
        store = std::make_unique<pg::MirrorStore>(*db);
    }
    // What a standby that takes over has: its own session on the same schema.
    void new_session()
    {
        store.reset();
        db = std::make_unique<pg::Connection>(test::pg_conninfo());
        pg::use_schema(*db, schema);
        store = std::make_unique<pg::MirrorStore>(*db);
    }

    FullSyncReport full_sync(http::Transport& transport, MembershipSource source,
                             std::vector<std::string> allow_deletions = {})
    {
        api::ApiClient api(ioc.get_executor(), transport, limiter,
                           {fake.options().api_key, "test", {2, 1ms, 1ms, 1ms}}, *log.logger);
        FullSyncOptions options;
        options.max_concurrent_directories = 2;
        options.directory.membership_source = source;
        options.directory.allow_deletions = std::move(allow_deletions);
        return test::run(ioc, run_full_sync({api, *store, *log.logger}, options));
    }

    std::vector<std::string> differences()
    {
        return test::pg_mirror_differences(*db, fake.dataset());
    }
    long long count(std::string const& sql) { return db->exec(sql).integer(0, 0); }

    boost::asio::io_context ioc;
    fake::FakeApi fake{fake::Dataset::generate({11, 3, 150, 12, 3}), unlimited()};
    test::FakeApiTransport fake_transport{fake};
    api::RateLimiter limiter{ioc.get_executor(), RateLimits{10000, 10000}};
    test::CapturedLog log;
    std::unique_ptr<pg::Connection> db;
    std::unique_ptr<pg::MirrorStore> store;
};

} // namespace

TEST_F(PgFullSyncTest, EveryStrategyMirrorsTheDatasetExactly)
{
    for (auto source : {MembershipSource::per_group, MembershipSource::per_user,
                        MembershipSource::embedded, MembershipSource::automatic}) {
        fresh_mirror();
        auto report = full_sync(fake_transport, source);
        EXPECT_EQ(report.synced.size(), 3u) << to_string(source);
        EXPECT_TRUE(report.failures.empty()) << to_string(source) << "\n" << log.text();
        EXPECT_EQ(differences(), std::vector<std::string>{}) << to_string(source);
    }
}

TEST_F(PgFullSyncTest, AResyncAfterUpstreamChangesConvergesAndOneAfterNoneWritesNothing)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto const seq = count("SELECT max(seq) FROM changes");
    full_sync(fake_transport, MembershipSource::per_group);
    EXPECT_EQ(count("SELECT max(seq) FROM changes"), seq) << "nothing changed, nothing recorded";

    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    ds.update_user(*ds.users_of_directory(dir).begin(), "Renamed", std::string("inactive"));
    ds.delete_group(*ds.groups_of_directory(dir).begin());
    auto const added = ds.add_user(dir, "New", "Person");
    ds.add_member(added, *ds.groups_of_directory(dir).begin());
    ds.delete_directory(std::prev(ds.directories().end())->first);

    auto report = full_sync(fake_transport, MembershipSource::per_group);
    EXPECT_EQ(report.removed.size(), 1u);
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_EQ(count("SELECT count(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users u "
                    "WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
                    "m.group_id)"),
              0);
}

TEST_F(PgFullSyncTest, AnInterruptedSyncResumesFromItsLastStoredPageInAnotherSession)
{
    fake.reset_stats();
    full_sync(fake_transport, MembershipSource::per_user);
    auto const full_cost = fake.stats().total();
    fresh_mirror();

    test::FailingAfter flaky(fake_transport, static_cast<int>(full_cost / 2));
    auto failed = full_sync(flaky, MembershipSource::per_user);
    EXPECT_FALSE(failed.failures.empty());
    EXPECT_EQ(count("SELECT count(*) FROM users"),
              count("SELECT COALESCE(sum(user_count), 0) FROM sync_state"))
        << "only merged directories are visible";
    EXPECT_GT(count("SELECT count(*) FROM staging_runs"), 0);

    new_session(); // the writer is gone; the standby carries on from the database
    fake.reset_stats();
    auto resumed = full_sync(fake_transport, MembershipSource::per_user);
    EXPECT_TRUE(resumed.failures.empty());
    EXPECT_NE(log.text().find("resuming the full sync"), std::string::npos);
    EXPECT_LT(fake.stats().total(), full_cost) << "a resumed sync must not start over";
    EXPECT_EQ(differences(), std::vector<std::string>{});
}

TEST_F(PgFullSyncTest, ASyncThatWouldDeleteTooMuchIsHeldUntilAllowed)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    auto const users = std::vector<std::string>(ds.users_of_directory(dir).begin(),
                                                ds.users_of_directory(dir).end());
    for (std::size_t i = 0; i < users.size() / 2; ++i)
        ds.delete_user(users[i]);
    auto const in_dir = "SELECT count(*) FROM users WHERE directory_id = '" + dir + "'";
    auto const before = count(in_dir);

    auto held = full_sync(fake_transport, MembershipSource::per_group);
    ASSERT_EQ(held.failures.size(), 1u);
    EXPECT_NE(held.failures[0].message.find("held"), std::string::npos);
    EXPECT_EQ(count(in_dir), before) << "nothing deleted";
    EXPECT_EQ(
        count("SELECT count(*) FROM mirror_status WHERE state = 'held' AND directory_id <> '*'"),
        1);

    auto applied = full_sync(fake_transport, MembershipSource::per_group, {dir});
    EXPECT_TRUE(applied.failures.empty());
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_EQ(count("SELECT count(*) FROM sync_state WHERE held_reason IS NOT NULL"), 0);
}
