#include "sync/membership_plan.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::sync;

namespace {

RateLimits const published{100, 4};
auto constexpr automatic = MembershipSource::automatic;

DirectoryLoad load(std::int64_t users, std::int64_t groups)
{
    return *estimate_load({users, groups, std::nullopt, std::nullopt}, automatic);
}

} // namespace

TEST(MembershipPlan, FewLargeGroupsGoPerGroup)
{
    // 10,000 users in 20 groups: 20 + 200 member pages at 4/s (55 s) vs 10,000 at 100/s (100 s).
    auto plan = plan_memberships({load(10000, 20)}, published);
    EXPECT_EQ(plan.strategies, std::vector{MembershipSource::per_group});
    EXPECT_NEAR(plan.seconds, (100 + 20 + 200) / 4.0, 1e-9);
}

TEST(MembershipPlan, ManySmallGroupsGoPerUser)
{
    // 300 users in 2,000 groups: 2,006 pages at 4/s vs 300 at 100/s.
    auto plan = plan_memberships({load(300, 2000)}, published);
    EXPECT_EQ(plan.strategies, std::vector{MembershipSource::per_user});
}

TEST(MembershipPlan, DirectoriesShareTheGlobalBudgetSoTheyAreChosenTogether)
{
    // Alone, each finishes sooner per user: A (6,000 users, 220 groups) in 61 s rather than
    // (60 + 340) / 4 = 100 s per group, B (4,000 users, 60 groups) in 41 s rather than 45 s. Both
    // per user would take the shared budget for 101 s; A per user and B per group, 62 s.
    auto const a = load(6000, 220), b = load(4000, 60);
    EXPECT_EQ(plan_memberships({b}, published).strategies, std::vector{MembershipSource::per_user});
    auto const both = plan_memberships({a, b}, published);
    EXPECT_EQ(both.strategies,
              (std::vector{MembershipSource::per_user, MembershipSource::per_group}));
    EXPECT_NEAR(both.seconds, (1 + 63 + 6000 + 41 + 140) / 100.0, 1e-9); // A lists 3 group pages
    EXPECT_LT(
        both.seconds,
        plan_seconds({a, b}, {MembershipSource::per_user, MembershipSource::per_user}, published));
}

TEST(MembershipPlan, AFixedStrategyIsKeptAndCountedAgainstTheBudget)
{
    auto fixed = load(6000, 220);
    fixed.source = MembershipSource::per_user;
    auto const plan = plan_memberships({fixed, load(4000, 60)}, published);
    EXPECT_EQ(plan.strategies[0], MembershipSource::per_user);
    EXPECT_EQ(plan.strategies[1], MembershipSource::per_group) << "the budget is taken";
}

TEST(MembershipPlan, ManyDirectoriesArePlannedGreedilyAndNoWorseThanAllPerGroup)
{
    std::vector<DirectoryLoad> loads;
    for (int i = 1; i <= 20; ++i)
        loads.push_back(load(20000 / i, 1000 / i));
    auto const plan = plan_memberships(loads, published);
    EXPECT_LE(
        plan.seconds,
        plan_seconds(loads, std::vector(loads.size(), MembershipSource::per_group), published));
    EXPECT_EQ(plan.strategies[0], MembershipSource::per_user) << "the largest, whose limit binds";
}

TEST(MembershipPlan, EmptyDirectoryPicksPerGroup)
{
    EXPECT_EQ(plan_memberships({load(0, 0)}, published).strategies,
              std::vector{MembershipSource::per_group});
}

TEST(MembershipPlan, TheLoadComesFromTheMirrorsHistoryWhenThereIsOne)
{
    EXPECT_FALSE(estimate_load({std::nullopt, 10, std::nullopt, std::nullopt}, automatic));
    auto const prior = load(1000, 50);
    EXPECT_DOUBLE_EQ(prior.per_group_pages, 50 + 2 * 10); // two pages per 100 users assumed
    EXPECT_DOUBLE_EQ(prior.per_user_pages, 1000);
    EXPECT_DOUBLE_EQ(prior.users_pages, 10);
    EXPECT_DOUBLE_EQ(prior.listing_pages, 11);
    auto const measured = *estimate_load({1000, 50, 240.0, 1003.0}, automatic);
    EXPECT_DOUBLE_EQ(measured.per_group_pages, 240);
    EXPECT_DOUBLE_EQ(measured.per_user_pages, 1003);
}

TEST(MembershipSource, ParsesAndPrintsEveryName)
{
    for (auto const* name : {"auto", "per_group", "per_user", "embedded"})
        EXPECT_STREQ(to_string(*parse_membership_source(name)), name);
    EXPECT_FALSE(parse_membership_source("groups"));
}
