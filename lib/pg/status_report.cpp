#include "pg/status_report.hpp"

#include "pg/mirror_rows.hpp"
#include "pg/transaction.hpp"
#include "pg/writer_lease.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace dirsync::pg {
namespace {

std::optional<double> optional_number(Result const& r, int row, int column)
{
    if (r.is_null(row, column))
        return std::nullopt;
    return std::strtod(r.text(row, column).c_str(), nullptr);
}

} // namespace

store::StatusReport read_status(Connection& db)
{
    store::StatusReport out;
    Transaction snapshot(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    auto const all = db.exec(fmt::format(
        "SELECT state, daemon_pid, {}, {}, {}, last_error, {}, poll_interval_seconds, min_seq, "
        "max_seq, schema_version, status_heartbeat_seconds, (SELECT count(*) FROM "
        "quarantined_events) FROM mirror_status WHERE directory_id = '*'",
        iso_text("daemon_started_at"), iso_text("caught_up_at"), iso_text("last_event_at"),
        iso_text("last_error_at")));
    if (all.rows() > 0) {
        out.state = all.text(0, 0);
        if (!all.is_null(0, 1))
            out.daemon_pid = all.integer(0, 1);
        out.daemon_started_at = all.optional_text(0, 2);
        out.caught_up_at = all.optional_text(0, 3);
        out.last_event_at = all.optional_text(0, 4);
        out.last_error = all.optional_text(0, 5);
        out.last_error_at = all.optional_text(0, 6);
        out.poll_interval_seconds = optional_number(all, 0, 7);
        out.min_seq = all.integer(0, 8);
        out.max_seq = all.integer(0, 9);
        out.schema_version = static_cast<int>(all.integer(0, 10));
        out.status_heartbeat_seconds = optional_number(all, 0, 11);
        out.quarantined_events = all.integer(0, 12);
    }
    auto const q = db.exec(fmt::format(
        "WITH u AS (SELECT directory_id, count(*) AS n FROM users GROUP BY directory_id), g AS "
        "(SELECT directory_id, count(*) AS n FROM groups GROUP BY directory_id), m AS (SELECT "
        "directory_id, count(*) AS n FROM memberships GROUP BY directory_id) SELECT "
        "s.directory_id, s.name, s.organization_id, s.state, COALESCE(u.n, 0), COALESCE(g.n, 0), "
        "COALESCE(m.n, 0), st.membership_strategy, {}, {}, {}, {}, s.held_reason, s.last_error, "
        "{}, EXISTS (SELECT 1 FROM full_sync_runs r WHERE r.directory_id = s.directory_id) FROM "
        "mirror_status s LEFT JOIN u USING (directory_id) LEFT JOIN g USING (directory_id) LEFT "
        "JOIN m USING (directory_id) LEFT JOIN sync_state st USING (directory_id) WHERE "
        "s.directory_id <> '*' AND s.state <> 'standby' ORDER BY s.directory_id COLLATE \"C\"",
        iso_text("s.last_full_sync_started_at"), iso_text("s.last_full_sync_finished_at"),
        iso_text("s.last_event_at"), iso_text("s.caught_up_at"), iso_text("s.last_error_at")));
    for (int i = 0; i < q.rows(); ++i) {
        store::DirectoryReport d;
        d.id = q.text(i, 0);
        d.name = q.optional_text(i, 1);
        d.organization_id = q.optional_text(i, 2);
        d.state = q.text(i, 3);
        d.users = q.integer(i, 4);
        d.groups = q.integer(i, 5);
        d.memberships = q.integer(i, 6);
        d.membership_strategy = q.optional_text(i, 7);
        d.last_full_sync_started_at = q.optional_text(i, 8);
        d.last_full_sync_finished_at = q.optional_text(i, 9);
        d.last_event_at = q.optional_text(i, 10);
        d.caught_up_at = q.optional_text(i, 11);
        d.held_reason = q.optional_text(i, 12);
        d.last_error = q.optional_text(i, 13);
        d.last_error_at = q.optional_text(i, 14);
        d.full_sync_in_progress = q.text(i, 15) == "t";
        out.directories.push_back(std::move(d));
    }
    auto const sb = db.exec(fmt::format("SELECT name, daemon_pid, {}, {} FROM mirror_status WHERE "
                                        "state = 'standby' ORDER BY name, daemon_pid",
                                        iso_text("daemon_started_at"), iso_text("caught_up_at")));
    for (int i = 0; i < sb.rows(); ++i)
        out.standbys.push_back(
            {sb.text(i, 0), sb.integer(i, 1), sb.optional_text(i, 2), sb.optional_text(i, 3)});
    out.writer_lease_held = WriterLease::taken(db, db.exec("SELECT current_schema()").text(0, 0));
    snapshot.commit();
    return out;
}

} // namespace dirsync::pg
