// The `auto` estimate that picks how a directory's memberships are read. Pure: no I/O.
#pragma once

#include "model/sync_options.hpp"

#include <cstdint>

namespace dirsync::sync {

struct PlanInput {
    std::int64_t users = 0;
    std::int64_t groups = 0;
    double directory_users_per_second = 3.5; // the per-directory /directory_users pace
    double global_per_second_share = 50.0;   // this directory's share of the global pace
};

struct Plan {
    MembershipSource strategy = MembershipSource::per_group;
    double per_group_seconds = 0; // estimated duration of each strategy
    double per_user_seconds = 0;
};

// per_group costs one /directory_users call per group plus one per extra page of members
// (estimated as one page per 100 users), all under the per-directory pace; per_user costs one
// /directory_groups call per user under the global pace. Picks the faster; per_group on a tie.
Plan choose_membership_strategy(PlanInput const& input);

} // namespace dirsync::sync
