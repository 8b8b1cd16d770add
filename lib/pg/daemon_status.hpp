// The daemon's row of the PostgreSQL mirror_status (daemon_status), as lib/store/daemon_status
// writes it in SQLite, and the standbys' rows: a dirsyncd waiting for the writer lease says so in
// `standbys` (host, pid, since, last seen), which mirror_status shows as state 'standby'.
#pragma once

#include "pg/connection.hpp"
#include "store/status_writer.hpp"

#include <chrono>
#include <string>

namespace dirsync::pg {

class DaemonStatus final : public store::StatusWriter {
public:
    // `db` has the mirror's schema on its search_path and is the writer's session.
    explicit DaemonStatus(Connection& db);

    void started(long pid, std::string const& now, std::chrono::milliseconds poll_interval,
                 std::chrono::seconds heartbeat) override;
    void stopped() override;
    void caught_up(std::string const& now) override;
    void stream_failed(std::string const& message, std::string const& now) override;
    void stream_recovered() override;

private:
    Connection& db_;
};

// A standby's row: written when it starts waiting and at each try of the lease (`seen_at`), so
// that mirror_status shows the standbys alive within 3 poll intervals; deleted when it becomes
// the writer or stops.
void record_standby(Connection& db, std::string const& host, long pid, std::string const& since,
                    std::string const& now, std::chrono::milliseconds poll_interval);
void forget_standby(Connection& db, std::string const& host, long pid);

} // namespace dirsync::pg
