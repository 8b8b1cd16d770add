#include "sync/membership_plan.hpp"

#include <algorithm>

namespace dirsync::sync {

std::optional<MembershipSource> parse_membership_source(std::string_view text)
{
    if (text == "auto")
        return MembershipSource::automatic;
    if (text == "per_group")
        return MembershipSource::per_group;
    if (text == "per_user")
        return MembershipSource::per_user;
    if (text == "embedded")
        return MembershipSource::embedded;
    return std::nullopt;
}

char const* to_string(MembershipSource source)
{
    switch (source) {
    case MembershipSource::automatic:
        return "auto";
    case MembershipSource::per_group:
        return "per_group";
    case MembershipSource::per_user:
        return "per_user";
    case MembershipSource::embedded:
        return "embedded";
    }
    return "?";
}

Plan choose_membership_strategy(PlanInput const& in)
{
    Plan plan;
    double const group_calls =
        static_cast<double>(in.groups) + static_cast<double>((in.users + 99) / 100);
    double const user_calls = static_cast<double>(in.users);
    plan.per_group_seconds = group_calls / std::max(in.directory_users_per_second, 1e-9);
    plan.per_user_seconds = user_calls / std::max(in.global_per_second_share, 1e-9);
    plan.strategy = plan.per_user_seconds < plan.per_group_seconds ? MembershipSource::per_user
                                                                   : MembershipSource::per_group;
    return plan;
}

} // namespace dirsync::sync
