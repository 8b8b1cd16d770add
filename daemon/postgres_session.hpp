// What --once and daemon mode share about the PostgreSQL writer's session: the password from the
// systemd credential, the lease's idle timeout, and the keepalive that confirms the lease.
#pragma once

#include "pg/writer_lease.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

// "database <redacted conninfo> (schema S)", for every log line about it.
std::string postgres_where(std::string const& conninfo, std::string const& schema);

// Points libpq at the systemd credential `pgpass` (PGPASSFILE), when there is one.
void use_password_credential(std::map<std::string, std::string> const& environment,
                             spdlog::logger& log, std::string const& where);

// The server ends a writer session idle this long (paused or cut off), so that a standby takes
// over soon after: 2 x poll_interval, at least 2 s.
std::chrono::milliseconds lease_idle_timeout(std::chrono::milliseconds poll_interval);

// Confirms the lease every `every` (a quarter of the idle timeout) while the sync waits on the
// API between its writes. Throws pg::Error when the lease is gone: from then on another dirsyncd
// may be the writer, and this one must not write a row more.
boost::asio::awaitable<void> keep_lease(pg::WriterLease& lease, std::chrono::milliseconds every,
                                        std::string where);

} // namespace dirsync::daemon
