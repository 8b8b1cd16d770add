// `dirsyncd status [--json]`: what the mirror holds and how fresh it is, read-only (a reader-group
// user may run it, with or without a daemon). Exit 0 when all is well, 1 when a directory is
// held, failing or never synced or the daemon is stale, 5 when the database cannot be read.
#pragma once

#include <string>

namespace dirsync::daemon {

int run_status(std::string const& database, bool json);
// The same report of a PostgreSQL mirror (plain SELECTs: a reader role suffices); its standbys
// too. The writer counts as running while a session holds the schema's writer lease.
int run_status_postgres(std::string const& conninfo, std::string const& schema, bool json);

} // namespace dirsync::daemon
