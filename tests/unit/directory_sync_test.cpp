#include "store/database.hpp"
#include "store/mirror_store.hpp"
#include "support/failing_transport.hpp"
#include "support/fake_transport.hpp"
#include "support/mirror_compare.hpp"
#include "support/run.hpp"
#include "sync/directory_sync.hpp"
#include "sync/full_sync.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

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

class DirectorySyncTest : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    fake::FakeApi fake{fake::Dataset::generate({11, 3, 150, 12, 3}), unlimited()};
    test::FakeApiTransport fake_transport{fake};
    api::RateLimiter limiter{ioc.get_executor(), RateLimits{10000, 10000}};
    test::CapturedLog log;
    std::unique_ptr<store::Database> db = store::open_database(":memory:");
    std::unique_ptr<store::MirrorStore> store_ = std::make_unique<store::MirrorStore>(*db);
    store::MirrorStore& store() { return *store_; }

    // Starts over with an empty mirror (the store's statements go before their database).
    void fresh_mirror()
    {
        store_.reset();
        db = store::open_database(":memory:");
        store_ = std::make_unique<store::MirrorStore>(*db);
    }

    FullSyncReport full_sync(http::Transport& transport, MembershipSource source)
    {
        api::ApiClient api(ioc.get_executor(), transport, limiter,
                           {fake.options().api_key, "test", {2, 1ms, 1ms, 1ms}}, *log.logger);
        FullSyncOptions options;
        options.max_concurrent_directories = 2;
        options.directory.membership_source = source;
        return test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
    }
};

} // namespace

TEST_F(DirectorySyncTest, EveryStrategyMirrorsTheDatasetExactly)
{
    for (auto source : {MembershipSource::per_group, MembershipSource::per_user,
                        MembershipSource::embedded, MembershipSource::automatic}) {
        fresh_mirror();
        api::ApiClient api(ioc.get_executor(), fake_transport, limiter,
                           {fake.options().api_key, "test", {}}, *log.logger);
        FullSyncOptions options;
        options.directory.membership_source = source;
        auto report = test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
        EXPECT_EQ(report.synced.size(), 3u);
        EXPECT_TRUE(report.failures.empty());
        EXPECT_EQ(test::mirror_differences(*db, fake.dataset()), std::vector<std::string>{})
            << to_string(source);
    }
    EXPECT_NE(log.text().find("membership_source auto chose"), std::string::npos);
}

TEST_F(DirectorySyncTest, SecondSyncAfterUpstreamChangesConverges)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    auto const some_user = *ds.users_of_directory(dir).begin();
    auto const some_group = *ds.groups_of_directory(dir).begin();
    ds.update_user(some_user, "Renamed", std::string("inactive"));
    ds.delete_group(some_group);
    auto const added = ds.add_user(dir, "New", "Person");
    ds.add_member(added, *ds.groups_of_directory(dir).begin());
    ds.delete_directory(std::prev(ds.directories().end())->first);

    auto report = full_sync(fake_transport, MembershipSource::per_group);
    EXPECT_EQ(report.removed.size(), 1u);
    EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});
    EXPECT_EQ(test::dangling_memberships(*db), 0);
}

TEST_F(DirectorySyncTest, InterruptedSyncResumesFromTheLastStoredPage)
{
    // Count what an uninterrupted sync costs.
    fake.reset_stats();
    full_sync(fake_transport, MembershipSource::per_user);
    auto const full_cost = fake.stats().total();
    fresh_mirror();

    test::FailingAfter flaky(fake_transport, static_cast<int>(full_cost / 2));
    auto failed = full_sync(flaky, MembershipSource::per_user);
    EXPECT_FALSE(failed.failures.empty());
    EXPECT_EQ(
        db->execAndGet("SELECT COUNT(*) FROM users").getInt(),
        0 + static_cast<int>(
                db->execAndGet("SELECT COALESCE(SUM(user_count), 0) FROM sync_state").getInt()));
    EXPECT_GT(db->execAndGet("SELECT COUNT(*) FROM staging.runs").getInt(), 0);
    EXPECT_NE(db->execAndGet("SELECT last_error FROM sync_state WHERE last_error IS NOT NULL "
                             "LIMIT 1")
                  .getString()
                  .find("reset by peer"),
              std::string::npos);

    fake.reset_stats();
    auto resumed = full_sync(fake_transport, MembershipSource::per_user);
    EXPECT_TRUE(resumed.failures.empty());
    EXPECT_NE(log.text().find("resuming the full sync"), std::string::npos);
    EXPECT_LT(fake.stats().total(), full_cost) << "a resumed sync must not start over";
    EXPECT_EQ(test::mirror_differences(*db, fake.dataset()), std::vector<std::string>{});
}

// Records the targets it passes on, each answer after a turn of the event loop (as a network
// answer comes), so that the walks of one directory interleave.
class Recording : public http::Transport {
public:
    explicit Recording(http::Transport& inner)
        : inner_(inner)
    {
    }
    boost::asio::awaitable<http::Response> get(http::Request request) override
    {
        targets.push_back(request.target);
        co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                                   boost::asio::use_awaitable);
        co_return co_await inner_.get(std::move(request));
    }
    std::vector<std::string> targets;

private:
    http::Transport& inner_;
};

TEST_F(DirectorySyncTest, PerUserListsMembershipsWhileItStillListsUsers)
{
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    for (int i = 0; i < 350; ++i)
        ds.add_member(ds.add_user(dir, "Bulk", std::to_string(i)),
                      *ds.groups_of_directory(dir).begin());
    Recording recording(fake_transport);
    full_sync(recording, MembershipSource::per_user);
    EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});
    auto const& t = recording.targets;
    auto const users_page = [&dir](std::string const& target) {
        return target.find("/directory_users?directory=" + dir) == 0;
    };
    auto const last_users_page = std::find_if(t.rbegin(), t.rend(), users_page);
    ASSERT_NE(last_users_page, t.rend());
    auto const first_walk = std::find_if(t.begin(), t.end(), [](std::string const& target) {
        return target.find("/directory_groups?user=") == 0;
    });
    ASSERT_NE(first_walk, t.end());
    EXPECT_LT(first_walk - t.begin(), t.rend() - last_users_page - 1)
        << "the walks of the first users pages run before the last users page";
}

TEST_F(DirectorySyncTest, AStreamedPerUserSyncResumesWhereverItWasCut)
{
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    for (int i = 0; i < 350; ++i)
        ds.add_member(ds.add_user(dir, "Bulk", std::to_string(i)),
                      *ds.groups_of_directory(dir).begin());
    Recording yielding(fake_transport); // the walks interleave with the users listing
    fake.reset_stats();
    full_sync(yielding, MembershipSource::per_user);
    auto const full_cost = static_cast<int>(fake.stats().total());
    for (int budget = 3; budget < full_cost; budget += full_cost / 7) {
        fresh_mirror();
        test::FailingAfter flaky(yielding, budget);
        EXPECT_FALSE(full_sync(flaky, MembershipSource::per_user).failures.empty());
        fake.reset_stats();
        auto resumed = full_sync(yielding, MembershipSource::per_user);
        EXPECT_TRUE(resumed.failures.empty()) << "cut after " << budget << " requests";
        EXPECT_LT(static_cast<int>(fake.stats().total()), full_cost)
            << "cut after " << budget << " requests: the resumed sync started over";
        EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{})
            << "cut after " << budget << " requests";
    }
}

TEST_F(DirectorySyncTest, ACursorThatDoesNotAdvanceStopsTheListing)
{
    test::ScriptedTransport scripted;
    scripted.respond(200, R"({"data":[{"object":"directory","id":"directory_1","state":"linked",
        "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
        "list_metadata":{"after":null}})");
    scripted.respond(200, R"({"data":[],"list_metadata":{"after":null}})"); // groups
    auto const stuck = R"({"data":[{"id":"directory_user_1","directory_id":"directory_1",
        "state":"active","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
        "list_metadata":{"after":"directory_user_1"}})";
    scripted.respond(200, stuck);
    scripted.respond(200, stuck);
    auto report = full_sync(scripted, MembershipSource::per_group);
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_NE(report.failures[0].message.find("cursor did not advance"), std::string::npos);
    EXPECT_EQ(scripted.requests.size(), 4u);
    EXPECT_EQ(db->execAndGet("SELECT COUNT(*) FROM users").getInt(), 0);
}

TEST_F(DirectorySyncTest, ARecordWithoutAnIdFailsTheDirectoryAndDeletesNothing)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto const users_before = db->execAndGet("SELECT COUNT(*) FROM users").getInt();
    test::ScriptedTransport scripted;
    scripted.respond(200, R"({"data":[{"object":"directory","id":"directory_1","state":"linked",
        "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
        "list_metadata":{"after":null}})");
    scripted.respond(200, R"({"data":[{"name":"no id"}],"list_metadata":{"after":null}})");
    auto report = full_sync(scripted, MembershipSource::per_group);
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_NE(report.failures[0].message.find("no usable id"), std::string::npos);
    // the three fake directories left the scope and were removed; directory_1 got nothing
    EXPECT_EQ(
        db->execAndGet("SELECT COUNT(*) FROM users WHERE directory_id = 'directory_1'").getInt(),
        0);
    EXPECT_GT(users_before, 0);
}

TEST_F(DirectorySyncTest, PageCapEndsARunawayListing)
{
    api::ApiClient api(ioc.get_executor(), fake_transport, limiter,
                       {fake.options().api_key, "test", {}}, *log.logger);
    FullSyncOptions options;
    options.directory.max_pages_per_listing = 1;
    options.directory.membership_source = MembershipSource::per_group;
    // 50 users per directory in pages of 100 fit; force more pages with a bigger directory
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    for (int i = 0; i < 120; ++i)
        ds.add_user(dir, "Bulk", std::to_string(i));
    auto report = test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(report.failures[0].directory_id, dir);
    EXPECT_NE(report.failures[0].message.find("max_pages_per_listing"), std::string::npos);
}

TEST_F(DirectorySyncTest, ObjectCapEndsARunawayDirectoryAndDeletesNothing)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    auto const count = [&](char const* table) {
        SQLite::Statement q(*db,
                            fmt::format("SELECT COUNT(*) FROM {} WHERE directory_id = ?", table));
        q.bind(1, dir);
        q.executeStep();
        return q.getColumn(0).getInt64();
    };
    auto const users_before = count("users");
    auto const groups_before = count("groups");
    ASSERT_GT(users_before, 1);
    // upstream: one user gone, 200 new ones; the cap is just above the old size
    ds.delete_user(*ds.users_of_directory(dir).begin());
    for (int i = 0; i < 200; ++i)
        ds.add_user(dir, "Bulk", std::to_string(i));

    api::ApiClient api(ioc.get_executor(), fake_transport, limiter,
                       {fake.options().api_key, "test", {}}, *log.logger);
    FullSyncOptions options;
    options.directory.membership_source = MembershipSource::per_group;
    options.directory.max_objects_per_directory = users_before + groups_before + 10;
    auto report = test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(report.failures[0].directory_id, dir);
    EXPECT_NE(report.failures[0].message.find("max_objects_per_directory"), std::string::npos);
    EXPECT_EQ(count("users"), users_before); // nothing added, nothing deleted
    EXPECT_EQ(count("groups"), groups_before);

    // raising the cap lets the next run (resuming the staging) converge
    options.directory.max_objects_per_directory = 100000;
    report = test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
    EXPECT_TRUE(report.failures.empty());
    EXPECT_EQ(count("users"), users_before - 1 + 200);
}

TEST_F(DirectorySyncTest, ASyncThatWouldDeleteTooMuchIsHeldUntilAllowed)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    auto const users = std::vector<std::string>(ds.users_of_directory(dir).begin(),
                                                ds.users_of_directory(dir).end());
    for (std::size_t i = 0; i < users.size() / 2; ++i)
        ds.delete_user(users[i]);
    auto const count = [&] {
        SQLite::Statement q(*db, "SELECT COUNT(*) FROM users WHERE directory_id = ?");
        q.bind(1, dir);
        q.executeStep();
        return q.getColumn(0).getInt();
    };
    auto const before = count();

    auto held = full_sync(fake_transport, MembershipSource::per_group);
    ASSERT_EQ(held.failures.size(), 1u);
    EXPECT_EQ(held.failures[0].directory_id, dir);
    EXPECT_NE(held.failures[0].message.find("held"), std::string::npos);
    EXPECT_EQ(count(), before) << "nothing deleted";
    SQLite::Statement reason(*db, "SELECT held_reason FROM sync_state WHERE directory_id = ?");
    reason.bind(1, dir);
    ASSERT_TRUE(reason.executeStep());
    EXPECT_NE(reason.getColumn(0).getString().find("max_delete_fraction"), std::string::npos);
    EXPECT_NE(log.text().find("dirsyncd allow-deletions " + dir), std::string::npos);

    api::ApiClient api(ioc.get_executor(), fake_transport, limiter,
                       {fake.options().api_key, "test", {}}, *log.logger);
    FullSyncOptions options;
    options.directory.membership_source = MembershipSource::per_group;
    options.directory.allow_deletions = {dir};
    auto applied = test::run(ioc, run_full_sync({api, store(), *log.logger}, options));
    EXPECT_TRUE(applied.failures.empty());
    EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});
    EXPECT_EQ(
        db->execAndGet("SELECT COUNT(*) FROM sync_state WHERE held_reason IS NOT NULL").getInt(),
        0);
}

TEST_F(DirectorySyncTest, AListingWithNoUsersForADirectoryThatHadSomeIsHeld)
{
    full_sync(fake_transport, MembershipSource::per_group);
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    for (auto const& u : std::vector<std::string>(ds.users_of_directory(dir).begin(),
                                                  ds.users_of_directory(dir).end()))
        ds.delete_user(u);
    auto held = full_sync(fake_transport, MembershipSource::per_group);
    ASSERT_EQ(held.failures.size(), 1u);
    EXPECT_NE(held.failures[0].message.find("returned no users"), std::string::npos);
}

TEST_F(DirectorySyncTest, ASyncThatFindsNothingNewSavesItsPositionsRarelyYetSeesLaterChanges)
{
    auto& ds = fake.dataset();
    auto const dir = ds.directories().begin()->first;
    auto const big = *ds.groups_of_directory(dir).begin();
    for (int i = 0; i < 350; ++i) // a group of four member pages, five users pages
        ds.add_member(ds.add_user(dir, "Bulk", std::to_string(i)), big);
    full_sync(fake_transport, MembershipSource::per_group);
    ASSERT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});

    // Nothing new, cut after three of the big group's four member pages: none staged anything,
    // so none saved its position (a sync with nothing to change saves its positions every 64
    // pages, not every page) ...
    Recording order(fake_transport);
    full_sync(order, MembershipSource::per_group);
    auto const member_page = "/directory_users?group=" + big;
    int served = 0, pages = 0;
    for (auto const& target : order.targets) {
        ++served;
        if (target.rfind(member_page, 0) == 0 && ++pages == 3)
            break;
    }
    ASSERT_EQ(pages, 3);
    order.targets.clear();
    test::FailingAfter flaky(order, served);
    EXPECT_FALSE(full_sync(flaky, MembershipSource::per_group).failures.empty());
    SQLite::Statement owner(*db, "SELECT cursor IS NULL AND done = 0 FROM staging.owners WHERE id "
                                 "= ?");
    owner.bind(1, big);
    ASSERT_TRUE(owner.executeStep()) << "the big group's directory is still in its members phase";
    EXPECT_EQ(owner.getColumn(0).getInt(), 1) << "a page with nothing new saved its position";
    owner.reset();
    // ... and the next run lists those pages again and converges
    EXPECT_TRUE(full_sync(fake_transport, MembershipSource::per_group).failures.empty());
    EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});

    // Changes on the last pages only, behind pages with nothing new: each is seen, nothing else
    auto const& members = ds.members_of_group(big);
    ds.remove_member(*members.rbegin(), big);
    ds.update_user(*ds.users_of_directory(dir).rbegin(), "Renamed");
    auto const seq = db->execAndGet("SELECT COALESCE(MAX(seq), 0) FROM changes").getInt64();
    EXPECT_TRUE(full_sync(fake_transport, MembershipSource::per_group).failures.empty());
    EXPECT_EQ(test::mirror_differences(*db, ds), std::vector<std::string>{});
    EXPECT_EQ(
        db->execAndGet("SELECT COUNT(*) FROM changes WHERE seq > " + std::to_string(seq)).getInt(),
        2)
        << "the membership removed and the user renamed, nothing more";
}
