#include "sync/membership_plan.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::sync;

TEST(MembershipPlan, FewLargeGroupsGoPerGroup)
{
    // 10,000 users in 20 groups: ~120 paced calls at 3.5/s vs 10,000 calls at 50/s.
    auto plan = choose_membership_strategy({10000, 20, 3.5, 50.0});
    EXPECT_EQ(plan.strategy, MembershipSource::per_group);
    EXPECT_NEAR(plan.per_group_seconds, 120 / 3.5, 1e-9);
    EXPECT_NEAR(plan.per_user_seconds, 200.0, 1e-9);
}

TEST(MembershipPlan, ManySmallGroupsGoPerUser)
{
    // 300 users in 2,000 groups: 2,003 paced calls vs 300 calls at 50/s.
    auto plan = choose_membership_strategy({300, 2000, 3.5, 50.0});
    EXPECT_EQ(plan.strategy, MembershipSource::per_user);
}

TEST(MembershipPlan, AShareOfTheGlobalPaceChangesTheChoice)
{
    // 1,000 users in 200 groups: 210 paced calls (60 s) vs 1,000 calls at 50/s (20 s) or 2/s.
    auto alone = choose_membership_strategy({1000, 200, 3.5, 50.0});
    auto shared = choose_membership_strategy({1000, 200, 3.5, 2.0});
    EXPECT_EQ(alone.strategy, MembershipSource::per_user);
    EXPECT_EQ(shared.strategy, MembershipSource::per_group);
}

TEST(MembershipPlan, EmptyDirectoryPicksPerGroup)
{
    EXPECT_EQ(choose_membership_strategy({0, 0, 3.5, 50.0}).strategy, MembershipSource::per_group);
}

TEST(MembershipSource, ParsesAndPrintsEveryName)
{
    for (auto const* name : {"auto", "per_group", "per_user", "embedded"})
        EXPECT_STREQ(to_string(*parse_membership_source(name)), name);
    EXPECT_FALSE(parse_membership_source("groups"));
}
