#include "pg/mirror_rows.hpp"

#include <fmt/format.h>

#include <vector>

namespace dirsync::pg {

bool delete_directory_rows(Connection& db, ChangeFeed& feed, std::string const& directory_id,
                           std::string const& now)
{
    // One statement: every DELETE sees the rows as they were, and the feed gets them in the
    // documented order (COLLATE "C": byte order, as SQLite sorts).
    auto const r = db.exec_prepared(
        "delete_directory",
        "WITH m AS (DELETE FROM memberships WHERE directory_id = $1 RETURNING user_id, "
        "group_id), u AS (DELETE FROM users WHERE directory_id = $1 RETURNING id), g AS (DELETE "
        "FROM groups WHERE directory_id = $1 RETURNING id), d AS (DELETE FROM directories WHERE "
        "id = $1 RETURNING id), s AS (DELETE FROM sync_state WHERE directory_id = $1), feed AS "
        "(INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT "
        "$2::timestamptz, $1, e, CASE WHEN e = 'membership' THEN a || ':' || b ELSE a END, "
        "'delete' FROM (SELECT 1, 'membership', user_id, group_id FROM m UNION ALL SELECT 2, "
        "'user', id, '' FROM u UNION ALL SELECT 3, 'group', id, '' FROM g UNION ALL SELECT 4, "
        "'directory', id, '' FROM d) AS gone (k, e, a, b) ORDER BY k, a COLLATE \"C\", b COLLATE "
        "\"C\" RETURNING seq) SELECT (SELECT count(*) FROM d), (SELECT max(seq) FROM feed)",
        {directory_id, now});
    if (!r.is_null(0, 1))
        feed.saw(r.integer(0, 1));
    clear_staging(db, directory_id);
    return r.integer(0, 0) > 0;
}

void clear_staging(Connection& db, std::string const& directory_id)
{
    db.exec_prepared("clear_staging",
                     "WITH a AS (DELETE FROM staged_membership_diff WHERE directory_id = $1), b "
                     "AS (DELETE FROM staged_owners WHERE directory_id = $1), c AS (DELETE FROM "
                     "staged_deletions WHERE directory_id = $1), d AS (DELETE FROM staged_users "
                     "WHERE directory_id = $1), e AS (DELETE FROM staged_groups WHERE "
                     "directory_id = $1), f AS (DELETE FROM staging_runs WHERE directory_id = "
                     "$1), g AS (DELETE FROM resync_touched WHERE directory_id = $1) DELETE FROM "
                     "full_sync_runs WHERE directory_id = $1",
                     {directory_id});
}

void record_event_times(Connection& db, store::EventTimes const& times)
{
    if (!times.latest)
        return;
    std::vector<std::string> dirs, at;
    for (auto const& [directory_id, t] : times.per_directory) {
        dirs.push_back(directory_id);
        at.push_back(t.text);
    }
    db.exec_prepared("record_event_times",
                     "WITH per_directory AS (INSERT INTO sync_state (directory_id, last_event_at) "
                     "SELECT d, t FROM unnest($1::text[], $2::timestamptz[]) AS batch (d, t) ON "
                     "CONFLICT (directory_id) DO UPDATE SET last_event_at = "
                     "excluded.last_event_at) UPDATE daemon_status SET last_event_at = "
                     "$3::timestamptz WHERE id = 1",
                     {text_array(dirs), text_array(at), times.latest->text});
}

std::string iso_text(char const* column)
{
    return fmt::format(R"(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))",
                       column);
}

} // namespace dirsync::pg
