// The merge of a staged directory into the PostgreSQL mirror's live tables, and a directory's
// removal: each one transaction, so that a reader sees a directory as it was or as it is, never
// half-merged, and hears of it (NOTIFY dirsyncd_changes) once it is there. The same steps as the
// SQLite merge (lib/store/merge_sql.hpp): what an event changed while the directory was listed
// is left alone, a tombstone as new keeps a deleted object out, no membership is left without
// its user or group, and what did not change is not rewritten and gets no changes row.
#pragma once

#include "model/model.hpp"
#include "pg/connection.hpp"
#include "store/merge_result.hpp"

#include <string>

namespace dirsync::pg {

// Merges the directory's staging (staging_runs, staged_*) and clears it. Throws
// std::logic_error when the directory has no staging run, pg::Error when the server fails (the
// transaction is then rolled back whole).
store::MergeResult merge_directory(Connection& db, Directory const& directory,
                                   store::SyncRecord const& record, std::string const& now);

// Deletes the directory and everything under it (and its staging) in one transaction,
// recording every deletion in `changes`. Returns false when it was not mirrored.
bool delete_directory(Connection& db, std::string const& directory_id, std::string const& now);

} // namespace dirsync::pg
