// How a full sync reads each directory's memberships: the `auto` estimate. Pure: no I/O.
//
// A walk per group (GET /directory_users?group=) runs under its directory's limit; a walk per
// user (GET /directory_groups?user=) under the global limit only, which every directory shares.
// So the strategies of the directories of one full sync are chosen together: the plan with the
// lowest bound on the wall time,
//     max( max over directories of (its /directory_users pages) / per-directory rate,
//          (all pages) / global rate ).
#pragma once

#include "model/api_options.hpp"
#include "model/sync_options.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dirsync::sync {

// What a directory's full sync costs in requests (pages), for each strategy.
struct DirectoryLoad {
    MembershipSource source = MembershipSource::automatic; // fixed by the config, or chosen
    double listing_pages = 0;   // its groups and users pages (all count globally)
    double users_pages = 0;     // of those, GET /directory_users (directory-limited)
    double per_group_pages = 0; // member pages of every group: directory-limited
    double per_user_pages = 0;  // group pages of every user: global only
};

struct MembershipPlan {
    std::vector<MembershipSource> strategies; // one per load: per_group, per_user or the fixed one
    double seconds = 0;                       // the plan's bound
};

// The bound of one choice (`strategies[i]` for `loads[i]`).
double plan_seconds(std::vector<DirectoryLoad> const& loads,
                    std::vector<MembershipSource> const& strategies, RateLimits const& pace);

// The plan with the lowest bound: every choice for up to 12 directories to choose, else from
// every automatic one per_group, moving to per_user whichever lowers the bound most while one does.
MembershipPlan plan_memberships(std::vector<DirectoryLoad> const& loads, RateLimits const& pace);

// What is known of a directory before it is listed: counts the API's directory object carries
// (metadata), and, when it was mirrored before, the pages its memberships took then.
struct DirectoryShape {
    std::optional<std::int64_t> users, groups;
    std::optional<double> per_group_pages, per_user_pages; // measured on the mirror
};

// The load estimated from the shape; nullopt when neither counts nor history are known. Without
// history, memberships are assumed skewed as directories are: groups small but for an
// "everyone"-like few holding about two memberships per user, so per_group pages are the
// groups plus two pages per 100 users.
std::optional<DirectoryLoad> estimate_load(DirectoryShape const& shape, MembershipSource source);

} // namespace dirsync::sync
