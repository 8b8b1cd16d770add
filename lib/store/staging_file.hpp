// dirsyncd's private staging database, DATABASE.staging next to the mirror (mode 0600), attached
// to the mirror's connection as `staging`. Full syncs stage their pages there, so that the
// progress of a listing never writes the mirror's own file (and its WAL), and what staging used
// is never left as free pages in the mirror. Disposable: a file of another layout is recreated.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>

namespace dirsync::store {

// The staging file of the mirror at `mirror_path` (":memory:" for an in-memory mirror).
std::string staging_path(std::string const& mirror_path);

// Attaches the staging file (creating it, or recreating it when its layout is not this build's)
// and creates its tables. Throws StoreError naming the file.
void attach_staging(SQLite::Database& db, std::string const& mirror_path);

} // namespace dirsync::store
