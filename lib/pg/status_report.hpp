// What `dirsyncd status` and the metrics show, read from the PostgreSQL mirror's public
// mirror_status view and the live tables with plain SELECTs (a reader role's rights suffice),
// as store::read_status does for SQLite.
#pragma once

#include "pg/connection.hpp"
#include "store/status_report.hpp"

namespace dirsync::pg {

// One snapshot (REPEATABLE READ, read only): the counts and the states agree. Throws pg::Error.
store::StatusReport read_status(Connection& db);

} // namespace dirsync::pg
