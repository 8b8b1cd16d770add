// Exit codes of dirsyncd (documented in README.md).
#pragma once

namespace dirsync::daemon {

enum ExitCode : int {
    exit_ok = 0,
    exit_sync_failed = 1, // at least one directory could not be synced
    exit_usage = 2,       // bad command line or config file, no API key
    exit_auth = 3,        // the API rejected the key (401)
    exit_unreachable = 4, // the API could not be reached, or TLS failed
    exit_database = 5,    // the database cannot be opened or written
    exit_locked = 6,      // another dirsyncd is writing the same database
};

} // namespace dirsync::daemon
