#include "model/sync_options.hpp"

#include <iterator>

namespace dirsync {

namespace {
// In the order of the enumerators.
constexpr char const* source_names[] = {"auto", "per_group", "per_user", "embedded"};
} // namespace

std::optional<MembershipSource> parse_membership_source(std::string_view text)
{
    for (std::size_t i = 0; i < std::size(source_names); ++i)
        if (text == source_names[i])
            return static_cast<MembershipSource>(i);
    return std::nullopt;
}

char const* to_string(MembershipSource source)
{
    return source_names[static_cast<std::size_t>(source)];
}

} // namespace dirsync
