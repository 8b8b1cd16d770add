// Lower bounds on the wall time of a complete mirror under WorkOS's rate limits, from the fake's
// own data: no client can be faster. Used by bench/rate_limited.sh to judge dirsyncd's pacing.
//
// A full sync lists the directories, each directory's groups and users, and its memberships one
// walk per group (GET /directory_users?group=, under the directory's limit) or one per user
// (GET /directory_groups?user=, under the global limit only). Every request counts against the
// global limit. With a page of 100, the bound of a choice of strategies is
//     max( max over directories of (its /directory_users requests) / per-directory rate,
//          (all requests) / global rate ),
// which is what dirsyncd's own planner minimises (lib/sync/membership_plan.hpp); here with the
// exact counts, every choice tried.
#pragma once

#include "dataset.hpp"
#include "model/api_options.hpp"

#include <map>
#include <string>
#include <vector>

namespace fake {

using Rates = dirsync::RateLimits;

// One directory's requests under each strategy.
struct DirectoryCost {
    std::string id;
    std::uint64_t users = 0, groups = 0, memberships = 0;
    std::uint64_t listing_requests = 0;   // its groups and users pages (users: directory-limited)
    std::uint64_t users_pages = 0;        // of those, GET /directory_users?directory=
    std::uint64_t per_group_requests = 0; // member pages of every group (directory-limited)
    std::uint64_t per_user_requests = 0;  // group pages of every user (global only)
};

struct Bounds {
    std::vector<DirectoryCost> directories;
    double all_per_group_seconds = 0; // every directory walks per group
    double all_per_user_seconds = 0;
    double best_mix_seconds = 0;         // the best choice per directory, made jointly
    std::vector<bool> best_mix_per_user; // that choice, by directory (true: per user)
};

Bounds compute_bounds(Dataset const& ds, Rates rates);

// The bound of the requests a client actually made: the most any one directory's limit had to
// carry, and the total against the global limit.
double bound_of_requests(std::map<std::string, std::uint64_t> const& directory_users_by_directory,
                         std::uint64_t total_requests, Rates rates);

} // namespace fake
