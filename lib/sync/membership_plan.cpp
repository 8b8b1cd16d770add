#include "sync/membership_plan.hpp"

#include "model/api_options.hpp"

#include <algorithm>

namespace dirsync::sync {

Plan choose_membership_strategy(PlanInput const& in)
{
    auto const page = static_cast<std::int64_t>(page_size);
    Plan plan;
    double const group_calls =
        static_cast<double>(in.groups) + static_cast<double>((in.users + page - 1) / page);
    double const user_calls = static_cast<double>(in.users);
    plan.per_group_seconds = group_calls / std::max(in.directory_users_per_second, 1e-9);
    plan.per_user_seconds = user_calls / std::max(in.global_per_second_share, 1e-9);
    plan.strategy = plan.per_user_seconds < plan.per_group_seconds ? MembershipSource::per_user
                                                                   : MembershipSource::per_group;
    return plan;
}

} // namespace dirsync::sync
