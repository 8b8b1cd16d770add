// `dirsyncd status [--json]`: what the mirror holds and how fresh it is, read-only (a reader-group
// user may run it, with or without a daemon). Exit 0 when all is well, 1 when a directory is
// held, failing or never synced or the daemon is stale, 5 when the database cannot be read.
#pragma once

#include <string>

namespace dirsync::daemon {

int run_status(std::string const& database, bool json);

} // namespace dirsync::daemon
