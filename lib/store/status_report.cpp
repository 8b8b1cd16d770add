#include "store/status_report.hpp"

#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace dirsync::store {
using sql::optional_text;

namespace {

std::optional<std::int64_t> optional_int(SQLite::Statement& q, int column)
{
    if (q.getColumn(column).isNull())
        return std::nullopt;
    return q.getColumn(column).getInt64();
}

} // namespace

StatusReport read_status(SQLite::Database& db)
{
    StatusReport r;
    // One read transaction: the counts and the states come from the same snapshot.
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    {
        SQLite::Statement q(db, "SELECT state, daemon_pid, daemon_started_at, caught_up_at, "
                                "last_event_at, last_error, last_error_at, poll_interval_seconds, "
                                "min_seq, max_seq, schema_version, status_heartbeat_seconds "
                                "FROM mirror_status WHERE "
                                "directory_id = '*'");
        if (q.executeStep()) {
            r.state = q.getColumn(0).getString();
            r.daemon_pid = optional_int(q, 1);
            r.daemon_started_at = optional_text(q, 2);
            r.caught_up_at = optional_text(q, 3);
            r.last_event_at = optional_text(q, 4);
            r.last_error = optional_text(q, 5);
            r.last_error_at = optional_text(q, 6);
            if (!q.getColumn(7).isNull())
                r.poll_interval_seconds = q.getColumn(7).getDouble();
            r.min_seq = q.getColumn(8).getInt64();
            r.max_seq = q.getColumn(9).getInt64();
            r.schema_version = q.getColumn(10).getInt();
            if (!q.getColumn(11).isNull())
                r.status_heartbeat_seconds = q.getColumn(11).getDouble();
        }
    }
    r.quarantined_events = db.execAndGet("SELECT COUNT(*) FROM quarantined_events").getInt64();

    SQLite::Statement q(
        db, "WITH u AS (SELECT directory_id, COUNT(*) AS n FROM users GROUP BY directory_id), "
            "g AS (SELECT directory_id, COUNT(*) AS n FROM groups GROUP BY directory_id), "
            "m AS (SELECT directory_id, COUNT(*) AS n FROM memberships GROUP BY directory_id) "
            "SELECT s.directory_id, s.name, s.organization_id, s.state, COALESCE(u.n, 0), "
            "COALESCE(g.n, 0), COALESCE(m.n, 0), st.membership_strategy, "
            "s.last_full_sync_started_at, s.last_full_sync_finished_at, s.last_event_at, "
            "s.caught_up_at, s.held_reason, s.last_error, s.last_error_at, EXISTS (SELECT 1 FROM "
            "full_sync_runs r WHERE r.directory_id = s.directory_id) "
            "FROM mirror_status s LEFT JOIN u USING (directory_id) LEFT JOIN g USING "
            "(directory_id) LEFT JOIN m USING (directory_id) LEFT JOIN sync_state st USING "
            "(directory_id) WHERE s.directory_id != '*' ORDER BY s.directory_id");
    while (q.executeStep()) {
        DirectoryReport d;
        d.id = q.getColumn(0).getString();
        d.name = optional_text(q, 1);
        d.organization_id = optional_text(q, 2);
        d.state = q.getColumn(3).getString();
        d.users = q.getColumn(4).getInt64();
        d.groups = q.getColumn(5).getInt64();
        d.memberships = q.getColumn(6).getInt64();
        d.membership_strategy = optional_text(q, 7);
        d.last_full_sync_started_at = optional_text(q, 8);
        d.last_full_sync_finished_at = optional_text(q, 9);
        d.last_event_at = optional_text(q, 10);
        d.caught_up_at = optional_text(q, 11);
        d.held_reason = optional_text(q, 12);
        d.last_error = optional_text(q, 13);
        d.last_error_at = optional_text(q, 14);
        d.full_sync_in_progress = q.getColumn(15).getInt() != 0;
        r.directories.push_back(std::move(d));
    }
    return r;
}

} // namespace dirsync::store
