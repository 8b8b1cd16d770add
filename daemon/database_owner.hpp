// Root working on the daemon's database without the daemon: act as the database's owner, so
// that the files made on the way (staging file, WAL) stay the daemon's and it can open them.
#pragma once

#include <optional>
#include <string>

namespace dirsync::daemon {

// Does nothing unless root runs us and the database exists with another owner; then switches
// to that owner's uid and the file's group. Returns the reason when it cannot.
std::optional<std::string> act_as_database_owner(std::string const& database_path);

// Without a daemon, root or the database's owner may steer (do the work); others may not.
// Returns the "permission denied" message for others.
std::optional<std::string> may_steer_without_daemon(std::string const& database_path);

} // namespace dirsync::daemon
