#include "pg/mirror_store.hpp"

#include "pg/merge.hpp"
#include "pg/status_report.hpp"

#include <fmt/format.h>

namespace dirsync::pg {
namespace {

// Sets a text column and its time column of the directory's sync_state row, creating the row
// when it is missing (a directory that never synced has only these).
void set_state(Connection& db, std::string const& directory_id, char const* text_column,
               char const* time_column, std::string const& text, std::string const& now)
{
    db.exec(fmt::format("INSERT INTO sync_state (directory_id, {0}, {1}) VALUES ($1, $2, "
                        "$3::timestamptz) ON CONFLICT (directory_id) DO UPDATE SET {0} = "
                        "excluded.{0}, {1} = excluded.{1}",
                        text_column, time_column),
            {directory_id, text, now});
}

} // namespace

store::MergeResult MirrorStore::merge_directory(Directory const& directory,
                                                store::SyncRecord const& record,
                                                std::string const& now)
{
    return pg::merge_directory(db_, directory, record, now);
}

bool MirrorStore::delete_directory(std::string const& directory_id, std::string const& now)
{
    return pg::delete_directory(db_, directory_id, now);
}

std::vector<std::string> MirrorStore::directory_ids()
{
    auto const r = db_.exec("SELECT id FROM directories ORDER BY id COLLATE \"C\"");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back(r.text(i, 0));
    return out;
}

std::optional<MirrorStore::MembershipPages>
MirrorStore::membership_pages(std::string const& directory_id)
{
    // a group (or user) with n memberships takes max(1, ceil(n / 100)) pages; those with none, 1
    auto const r = db_.exec(
        "SELECT (SELECT count(*) FROM users WHERE directory_id = $1), (SELECT count(*) FROM "
        "groups WHERE directory_id = $1), (SELECT COALESCE(sum(GREATEST(0, (n + 99) / 100 - 1)), "
        "0) FROM (SELECT count(*) AS n FROM memberships WHERE directory_id = $1 GROUP BY "
        "group_id) per_group), (SELECT COALESCE(sum(GREATEST(0, (n + 99) / 100 - 1)), 0) FROM "
        "(SELECT count(*) AS n FROM memberships WHERE directory_id = $1 GROUP BY user_id) "
        "per_user), EXISTS (SELECT 1 FROM directories WHERE id = $1)",
        {directory_id});
    if (r.text(0, 4) != "t")
        return std::nullopt;
    MembershipPages p;
    p.users = r.integer(0, 0);
    p.groups = r.integer(0, 1);
    p.per_group = static_cast<double>(p.groups + r.integer(0, 2));
    p.per_user = static_cast<double>(p.users + r.integer(0, 3));
    return p;
}

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

std::vector<store::DirectoryReport> MirrorStore::directory_status()
{
    return read_status(db_).directories;
}

} // namespace dirsync::pg
