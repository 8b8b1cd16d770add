#include "pg/daemon_status.hpp"

namespace dirsync::pg {
namespace {

std::string seconds_text(double s)
{
    return std::to_string(s);
}

} // namespace

DaemonStatus::DaemonStatus(Connection& db)
    : db_(db)
{
}

void DaemonStatus::started(long pid, std::string const& now,
                           std::chrono::milliseconds poll_interval, std::chrono::seconds heartbeat)
{
    db_.exec("UPDATE daemon_status SET daemon_pid = $1, daemon_started_at = $2, "
             "poll_interval_seconds = $3, status_heartbeat_seconds = $4 WHERE id = 1",
             {std::to_string(pid), now,
              seconds_text(static_cast<double>(poll_interval.count()) / 1000.0),
              seconds_text(static_cast<double>(heartbeat.count()))});
}

void DaemonStatus::stopped()
{
    db_.exec("UPDATE daemon_status SET daemon_pid = NULL WHERE id = 1");
}

void DaemonStatus::caught_up(std::string const& now)
{
    db_.exec_prepared("daemon_caught_up", "UPDATE daemon_status SET caught_up_at = $1 WHERE id = 1",
                      {now});
}

void DaemonStatus::stream_failed(std::string const& message, std::string const& now)
{
    db_.exec("UPDATE daemon_status SET last_error = $1, last_error_at = $2 WHERE id = 1",
             {message, now});
}

void DaemonStatus::stream_recovered()
{
    // Only when there is an error to clear: a good poll writes nothing.
    db_.exec("UPDATE daemon_status SET last_error = NULL, last_error_at = NULL WHERE id = 1 AND "
             "last_error IS NOT NULL");
}

void record_standby(Connection& db, std::string const& host, long pid, std::string const& since,
                    std::string const& now, std::chrono::milliseconds poll_interval)
{
    db.exec_prepared("record_standby",
                     "INSERT INTO standbys (host, pid, since, seen_at, poll_interval_seconds) "
                     "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host, pid) DO UPDATE SET seen_at = "
                     "excluded.seen_at, poll_interval_seconds = excluded.poll_interval_seconds",
                     {host, std::to_string(pid), since, now,
                      seconds_text(static_cast<double>(poll_interval.count()) / 1000.0)});
}

void forget_standby(Connection& db, std::string const& host, long pid)
{
    db.exec("DELETE FROM standbys WHERE host = $1 AND pid = $2", {host, std::to_string(pid)});
}

} // namespace dirsync::pg
