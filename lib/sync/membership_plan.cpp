#include "sync/membership_plan.hpp"

#include <algorithm>
#include <cmath>

namespace dirsync::sync {
namespace {

double pages(std::int64_t items)
{
    return std::max(1.0, std::ceil(static_cast<double>(items) / static_cast<double>(page_size)));
}

} // namespace

double plan_seconds(std::vector<DirectoryLoad> const& loads,
                    std::vector<MembershipSource> const& strategies, RateLimits const& pace)
{
    double slowest = 0;
    double total = 1; // GET /directories
    for (std::size_t i = 0; i < loads.size(); ++i) {
        auto const& l = loads[i];
        auto const s = strategies[i];
        double const limited =
            l.users_pages + (s == MembershipSource::per_group ? l.per_group_pages : 0);
        slowest = std::max(slowest, limited / std::max(pace.directory_users_per_second, 1e-9));
        total += l.listing_pages + (s == MembershipSource::per_group  ? l.per_group_pages
                                    : s == MembershipSource::per_user ? l.per_user_pages
                                                                      : 0);
    }
    return std::max(slowest, total / std::max(pace.global_per_second, 1e-9));
}

MembershipPlan plan_memberships(std::vector<DirectoryLoad> const& loads, RateLimits const& pace)
{
    MembershipPlan plan;
    std::vector<std::size_t> free; // the automatic ones
    for (std::size_t i = 0; i < loads.size(); ++i) {
        bool const automatic = loads[i].source == MembershipSource::automatic;
        plan.strategies.push_back(automatic ? MembershipSource::per_group : loads[i].source);
        if (automatic)
            free.push_back(i);
    }
    plan.seconds = plan_seconds(loads, plan.strategies, pace);
    auto choice = plan.strategies;
    if (free.size() <= 12) {
        for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << free.size()); ++mask) {
            for (std::size_t k = 0; k < free.size(); ++k)
                choice[free[k]] =
                    (mask >> k) & 1 ? MembershipSource::per_user : MembershipSource::per_group;
            if (auto const t = plan_seconds(loads, choice, pace); t < plan.seconds) {
                plan.seconds = t;
                plan.strategies = choice;
            }
        }
        return plan;
    }
    for (;;) { // greedy: the single move that lowers the bound most, while one does
        std::optional<std::size_t> best;
        double best_seconds = plan.seconds;
        for (auto i : free) {
            if (choice[i] == MembershipSource::per_user)
                continue;
            choice[i] = MembershipSource::per_user;
            if (auto const t = plan_seconds(loads, choice, pace); t < best_seconds) {
                best_seconds = t;
                best = i;
            }
            choice[i] = MembershipSource::per_group;
        }
        if (!best)
            return plan;
        choice[*best] = MembershipSource::per_user;
        plan.strategies = choice;
        plan.seconds = best_seconds;
    }
}

std::optional<DirectoryLoad> estimate_load(DirectoryShape const& shape, MembershipSource source)
{
    if (!shape.users || !shape.groups)
        return std::nullopt;
    auto const users = *shape.users, groups = *shape.groups;
    DirectoryLoad l;
    l.source = source;
    l.users_pages = pages(users);
    l.listing_pages = l.users_pages + pages(groups);
    double const hundreds = std::ceil(static_cast<double>(users) / static_cast<double>(page_size));
    l.per_group_pages = shape.per_group_pages.value_or(static_cast<double>(groups) + 2 * hundreds);
    l.per_user_pages = shape.per_user_pages.value_or(static_cast<double>(users));
    return l;
}

} // namespace dirsync::sync
