// MirrorStore: the sync_state bookkeeping that is not a merge: held syncs, failures, and the
// per-directory facts status reports show.
#include "store/mirror_store.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace dirsync::store {
using namespace sql;

namespace {

// Sets a text column and its time column of the directory's sync_state row, creating the row
// when it is missing (a directory that never synced has only these).
void set_state(SQLite::Database& db, std::string const& directory_id, char const* text_column,
               char const* time_column, std::string const& text, std::string const& now)
{
    SQLite::Statement st(db, fmt::format("INSERT INTO sync_state (directory_id, {0}, {1}) VALUES "
                                         "(:dir, :text, :now) ON CONFLICT (directory_id) DO "
                                         "UPDATE SET {0} = excluded.{0}, {1} = excluded.{1}",
                                         text_column, time_column));
    st.bind(":dir", directory_id);
    st.bind(":text", text);
    st.bind(":now", now);
    st.exec();
}

} // namespace

void MirrorStore::record_hold(std::string const& directory_id, std::string const& reason,
                              std::string const& now)
{
    set_state(db_, directory_id, "held_reason", "held_at", reason, now);
}

void MirrorStore::record_error(std::string const& directory_id, std::string const& message,
                               std::string const& now)
{
    set_state(db_, directory_id, "last_error", "last_error_at", message, now);
}

std::vector<DirectoryReport> MirrorStore::directory_status()
{
    return read_status(db_).directories;
}

} // namespace dirsync::store
