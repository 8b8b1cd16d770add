// The names of a full sync's phases, as staging_runs.phase (and the SQLite staging file) store
// them: shared by both backends.
#include "store/mirror_writer.hpp"

#include <iterator>

namespace dirsync::store {
namespace {

// In the order of the enumerators.
constexpr char const* phase_names[] = {"groups", "users", "memberships", "done"};

} // namespace

char const* phase_name(Phase p)
{
    return phase_names[static_cast<std::size_t>(p)];
}

Phase phase_from_name(std::string const& name)
{
    for (std::size_t i = 0; i < std::size(phase_names); ++i)
        if (name == phase_names[i])
            return static_cast<Phase>(i);
    return Phase::groups;
}

} // namespace dirsync::store
