#include "store/daemon_status.hpp"

#include "store/database.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace dirsync::store {
using namespace sql;

DaemonStatus::DaemonStatus(SQLite::Database& db)
    : db_(db)
{
}

void DaemonStatus::started(long pid, std::string const& now,
                           std::chrono::milliseconds poll_interval, std::chrono::seconds heartbeat)
{
    SQLite::Statement st(db_, "UPDATE daemon_status SET daemon_pid = :pid, daemon_started_at = "
                              ":now, poll_interval_seconds = :poll, status_heartbeat_seconds = "
                              ":heartbeat WHERE id = 1");
    st.bind(":pid", static_cast<std::int64_t>(pid));
    st.bind(":now", now);
    st.bind(":poll", static_cast<double>(poll_interval.count()) / 1000.0);
    st.bind(":heartbeat", static_cast<double>(heartbeat.count()));
    st.exec();
}

void DaemonStatus::stopped()
{
    db_.exec("UPDATE daemon_status SET daemon_pid = NULL WHERE id = 1");
}

void DaemonStatus::caught_up(std::string const& now)
{
    SQLite::Statement st(db_, "UPDATE daemon_status SET caught_up_at = :now WHERE id = 1");
    st.bind(":now", now);
    st.exec();
}

void DaemonStatus::stream_failed(std::string const& message, std::string const& now)
{
    SQLite::Statement st(db_, "UPDATE daemon_status SET last_error = :error, last_error_at = "
                              ":now WHERE id = 1");
    st.bind(":error", message);
    st.bind(":now", now);
    st.exec();
}

void DaemonStatus::stream_recovered()
{
    // Only when there is an error to clear: a good poll writes nothing.
    db_.exec("UPDATE daemon_status SET last_error = NULL, last_error_at = NULL WHERE id = 1 AND "
             "last_error IS NOT NULL");
}

DaemonStatus::Snapshot DaemonStatus::load()
{
    SQLite::Statement q(db_, "SELECT daemon_pid, daemon_started_at, caught_up_at, last_event_at, "
                             "last_error FROM daemon_status WHERE id = 1");
    Snapshot s;
    if (!q.executeStep())
        return s;
    if (!q.getColumn(0).isNull())
        s.pid = static_cast<long>(q.getColumn(0).getInt64());
    s.started_at = optional_text(q, 1);
    s.caught_up_at = optional_text(q, 2);
    s.last_event_at = optional_text(q, 3);
    s.last_error = optional_text(q, 4);
    return s;
}

std::string database_error_text(std::exception const& e)
{
    if (auto const* sqlite = dynamic_cast<SQLite::Exception const*>(&e))
        return describe_database_error(*sqlite);
    return e.what(); // pg::Error: libpq's text names the server, never the password
}

void record_event_times(SQLite::Database& db, EventTimes const& times)
{
    if (!times.latest)
        return;
    SQLite::Statement dir(db, "INSERT INTO sync_state (directory_id, last_event_at) VALUES (:dir, "
                              ":at) ON CONFLICT (directory_id) DO UPDATE SET last_event_at = "
                              "excluded.last_event_at");
    for (auto const& [directory_id, at] : times.per_directory) {
        rearm(dir);
        dir.bind(":dir", directory_id);
        dir.bind(":at", at.text);
        dir.exec();
    }
    SQLite::Statement all(db, "UPDATE daemon_status SET last_event_at = :at WHERE id = 1");
    all.bind(":at", times.latest->text);
    all.exec();
}

} // namespace dirsync::store
