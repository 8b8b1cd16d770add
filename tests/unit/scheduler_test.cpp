#include "sched/scheduler.hpp"
#include "sync/event_sync.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using namespace std::chrono_literals;

TEST(Scheduler, ResyncIntervalIsJitteredBothWays)
{
    EXPECT_EQ(sched::jittered(1000ms, 0.1, 0.0), 900ms);
    EXPECT_EQ(sched::jittered(1000ms, 0.1, 0.5), 1000ms);
    EXPECT_EQ(sched::jittered(1000ms, 0.1, 1.0), 1100ms);
}

TEST(EventsTarget, CursorOrRangeStartAndOneOrganization)
{
    EventSyncOptions options;
    Scope scope;
    auto t =
        api::events_target(sync::events_query(options, scope, {std::string("event_1"), {}, {}}));
    EXPECT_NE(t.find("events=dsync.activated%2Cdsync.deleted%2C"), std::string::npos) << t;
    EXPECT_NE(t.find("&limit=100&order=asc&after=event_1"), std::string::npos)
        << "oldest first, always: the documented default is newest first";
    EXPECT_EQ(t.find("before="), std::string::npos);
    t = api::events_target(
        sync::events_query(options, scope, {{}, {}, std::string("2026-01-01T00:00:00.000Z")}));
    EXPECT_NE(t.find("&range_start=2026-01-01T00%3A00%3A00.000Z"), std::string::npos) << t;
    scope.organizations = {"org_1"};
    EXPECT_NE(
        api::events_target(sync::events_query(options, scope, {})).find("&organization_id=org_1"),
        std::string::npos);
}

TEST(EventScope, DirectoriesOrganizationsOrEverything)
{
    Scope all;
    EXPECT_TRUE(sync::in_scope(all, "d1", std::nullopt));
    Scope dirs{{}, {"d1"}};
    EXPECT_TRUE(sync::in_scope(dirs, "d1", std::nullopt));
    EXPECT_FALSE(sync::in_scope(dirs, "d2", std::string("org")));
    Scope orgs{{"org_1"}, {}};
    EXPECT_TRUE(sync::in_scope(orgs, "d9", std::string("org_1")));
    EXPECT_FALSE(sync::in_scope(orgs, "d9", std::string("org_2")));
    EXPECT_FALSE(sync::in_scope(orgs, "d9", std::nullopt));
}
