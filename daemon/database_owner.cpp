#include "database_owner.hpp"

#include "control_protocol.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::daemon {

std::optional<std::string> act_as_database_owner(std::string const& database_path)
{
    struct stat st {};
    if (::geteuid() != 0 || ::stat(database_path.c_str(), &st) != 0 || st.st_uid == 0)
        return std::nullopt;
    if (::setgroups(0, nullptr) != 0 || ::setgid(st.st_gid) != 0 || ::setuid(st.st_uid) != 0)
        return fmt::format("cannot switch to uid {} and gid {}, the owner of {} (the files this "
                           "run makes must stay the daemon's): {}",
                           st.st_uid, st.st_gid, database_path, std::strerror(errno));
    return std::nullopt;
}

std::optional<std::string> may_steer_without_daemon(std::string const& database_path)
{
    struct stat st {};
    auto const me = static_cast<unsigned>(::geteuid());
    if (::stat(database_path.c_str(), &st) != 0) {
        if (errno == ENOENT) // none yet: whoever may create it
            return std::nullopt;
        return fmt::format("permission denied: cannot reach {} ({}); only root and the daemon's "
                           "user may steer dirsyncd",
                           database_path, std::strerror(errno));
    }
    if (may_steer(me, static_cast<unsigned>(st.st_uid)))
        return std::nullopt;
    return permission_denied(static_cast<unsigned>(st.st_uid));
}

} // namespace dirsync::daemon
