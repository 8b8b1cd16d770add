#include "model/sync_options.hpp"

namespace dirsync {

std::optional<MembershipSource> parse_membership_source(std::string_view text)
{
    for (auto s : {MembershipSource::automatic, MembershipSource::per_group,
                   MembershipSource::per_user, MembershipSource::embedded})
        if (text == to_string(s))
            return s;
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

} // namespace dirsync
