// How memberships are read (spec section 8.2), and the `auto` estimate that picks a strategy.
// Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dirsync::sync {

enum class MembershipSource {
    automatic, // estimate per directory which of per_group / per_user finishes sooner
    per_group, // GET /directory_users?group=<id> for every group
    per_user,  // GET /directory_groups?user=<id> for every user
    embedded,  // the deprecated `groups` array on user objects (legacy environments only)
};

std::optional<MembershipSource> parse_membership_source(std::string_view text);
char const* to_string(MembershipSource source); // "auto", "per_group", ...

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
