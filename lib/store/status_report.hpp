// What `dirsyncd status` and the metrics show, read from the public mirror_status view and the
// live tables with plain SELECTs: works on a read-only connection (a reader-group user's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace dirsync::store {

struct DirectoryReport {
    std::string id;
    std::optional<std::string> name, organization_id;
    std::string state; // never_synced, syncing, ok, held, failing
    std::int64_t users = 0, groups = 0, memberships = 0;
    std::optional<std::string> membership_strategy;
    std::optional<std::string> last_full_sync_started_at, last_full_sync_finished_at;
    std::optional<std::string> last_event_at, caught_up_at;
    std::optional<std::string> held_reason, last_error, last_error_at;
    bool full_sync_in_progress = false; // running, or interrupted (whatever the state says)
};

// A dirsyncd waiting for a shared PostgreSQL mirror's writer lease (mirror_status state
// 'standby'); SQLite mirrors have none.
struct StandbyReport {
    std::string host;
    std::int64_t pid = 0;
    std::optional<std::string> since, seen_at;
};

struct StatusReport {
    std::string state; // of the '*' row
    std::optional<std::int64_t> daemon_pid;
    std::optional<std::string> daemon_started_at, caught_up_at, last_event_at;
    std::optional<std::string> last_error, last_error_at; // the event stream's
    std::optional<double> poll_interval_seconds, status_heartbeat_seconds;
    std::int64_t min_seq = 0, max_seq = 0;
    int schema_version = 0;
    std::int64_t quarantined_events = 0;
    std::vector<DirectoryReport> directories; // by id
    std::vector<StandbyReport> standbys;      // by host and pid
    // PostgreSQL: whether some session holds the schema's writer lease (the writer may run on
    // another host, so its pid cannot be checked here). nullopt for SQLite.
    std::optional<bool> writer_lease_held;
};

// Throws SQLite::Exception when the database cannot be read (or has no mirror_status view yet).
StatusReport read_status(SQLite::Database& db);

} // namespace dirsync::store
