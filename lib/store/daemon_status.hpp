// What the public mirror_status view (schema/005_mirror_status.sql) reads besides sync_state: the
// daemon's row (pid, start, the last caught-up poll, the event stream's last error) and the time
// of the newest applied event per directory. Every write is a small UPDATE of its own or part of
// the transaction whose effects it describes.
#pragma once

#include "model/timestamp.hpp"
#include "store/event_page.hpp"
#include "store/status_writer.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace SQLite {
class Database;
}

namespace dirsync::store {

class DaemonStatus final : public StatusWriter {
public:
    explicit DaemonStatus(SQLite::Database& db);

    void started(long pid, std::string const& now, std::chrono::milliseconds poll_interval,
                 std::chrono::seconds heartbeat) override;
    void stopped() override;
    void caught_up(std::string const& now) override;
    void stream_failed(std::string const& message, std::string const& now) override;
    void stream_recovered() override;

    struct Snapshot {
        std::optional<long> pid;
        std::optional<std::string> started_at, caught_up_at, last_event_at, last_error;
    };
    Snapshot load();

private:
    SQLite::Database& db_;
};

// Inside an events page's transaction: the newest event applied for each directory (by
// created_at), kept in sync_state.last_event_at and, the newest of all, in the daemon's row.
void record_event_times(SQLite::Database& db, EventTimes const& times);

} // namespace dirsync::store
