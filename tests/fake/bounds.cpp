#include "bounds.hpp"

#include "sync/membership_plan.hpp"

#include <algorithm>

namespace fake {
namespace {

std::uint64_t pages(std::uint64_t items)
{
    return std::max<std::uint64_t>(1, (items + 99) / 100);
}

} // namespace

Bounds compute_bounds(Dataset const& ds, Rates rates)
{
    using dirsync::MembershipSource;
    Bounds b;
    std::vector<dirsync::sync::DirectoryLoad> loads;
    for (auto const& [id, dir] : ds.directories()) {
        DirectoryCost c;
        c.id = id;
        c.users = ds.users_of_directory(id).size();
        c.groups = ds.groups_of_directory(id).size();
        c.users_pages = pages(c.users);
        c.listing_requests = c.users_pages + pages(c.groups);
        for (auto const& g : ds.groups_of_directory(id)) {
            c.memberships += ds.members_of_group(g).size();
            c.per_group_requests += pages(ds.members_of_group(g).size());
        }
        for (auto const& u : ds.users_of_directory(id))
            c.per_user_requests += pages(ds.groups_of_user(u).size());
        b.directories.push_back(c);
        loads.push_back({MembershipSource::automatic, static_cast<double>(c.listing_requests),
                         static_cast<double>(c.users_pages),
                         static_cast<double>(c.per_group_requests),
                         static_cast<double>(c.per_user_requests)});
    }
    b.all_per_group_seconds = dirsync::sync::plan_seconds(
        loads, std::vector(loads.size(), MembershipSource::per_group), rates);
    b.all_per_user_seconds = dirsync::sync::plan_seconds(
        loads, std::vector(loads.size(), MembershipSource::per_user), rates);
    auto const best = dirsync::sync::plan_memberships(loads, rates);
    b.best_mix_seconds = best.seconds;
    for (auto s : best.strategies)
        b.best_mix_per_user.push_back(s == MembershipSource::per_user);
    return b;
}

double bound_of_requests(std::map<std::string, std::uint64_t> const& directory_users_by_directory,
                         std::uint64_t total_requests, Rates rates)
{
    std::uint64_t most = 0;
    for (auto const& [dir, n] : directory_users_by_directory)
        most = std::max(most, n);
    return std::max(static_cast<double>(most) / rates.directory_users_per_second,
                    static_cast<double>(total_requests) / rates.global_per_second);
}

} // namespace fake
