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

std::vector<MirrorStore::DirectoryStatus> MirrorStore::directory_status()
{
    SQLite::Statement q(
        db_, "WITH ids AS (SELECT id FROM directories UNION SELECT directory_id FROM sync_state) "
             "SELECT ids.id, COALESCE(d.name, ''), "
             "(SELECT COUNT(*) FROM users u WHERE u.directory_id = ids.id), "
             "(SELECT COUNT(*) FROM groups g WHERE g.directory_id = ids.id), "
             "(SELECT COUNT(*) FROM memberships m WHERE m.directory_id = ids.id), "
             "s.full_sync_finished_at, s.membership_strategy, s.last_error, s.last_error_at, "
             "EXISTS (SELECT 1 FROM full_sync_runs r WHERE r.directory_id = ids.id) "
             "FROM ids LEFT JOIN directories d ON d.id = ids.id "
             "LEFT JOIN sync_state s ON s.directory_id = ids.id ORDER BY ids.id");
    auto opt = [&q](int i) { return optional_text(q, i); };
    std::vector<DirectoryStatus> out;
    while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                       q.getColumn(2).getInt64(), q.getColumn(3).getInt64(),
                       q.getColumn(4).getInt64(), opt(5), opt(6), opt(7), opt(8),
                       q.getColumn(9).getInt() != 0});
    return out;
}

} // namespace dirsync::store
