// The daemon's own row of mirror_status (pid, start, the last caught-up poll, the event stream's
// last error), whichever database holds it: store::DaemonStatus (SQLite) and pg::DaemonStatus
// (PostgreSQL) implement it; the scheduler writes through this interface only. Each write is one
// small UPDATE; it throws the database's error, which the caller logs (never fatal).
#pragma once

#include <chrono>
#include <exception>
#include <string>

namespace dirsync::store {

class StatusWriter {
public:
    virtual ~StatusWriter() = default;

    // A daemon took the database: its pid, when, and the intervals apps judge freshness by.
    virtual void started(long pid, std::string const& now, std::chrono::milliseconds poll_interval,
                         std::chrono::seconds heartbeat) = 0;
    // The daemon stops: daemon_pid becomes NULL (after a crash it stays until the next start).
    virtual void stopped() = 0;
    virtual void caught_up(std::string const& now) = 0;
    virtual void stream_failed(std::string const& message, std::string const& now) = 0;
    virtual void stream_recovered() = 0; // clears the stream's last error, when there is one
};

// The text of a database error for the log, whichever database threw it.
std::string database_error_text(std::exception const& e);

} // namespace dirsync::store
