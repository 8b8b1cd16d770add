// `dirsyncd --once` into a PostgreSQL mirror, and an operator's resync, evict or allow-deletions
// when no daemon's control socket answers: connects, creates or migrates the schema, takes the
// schema's writer lease (exit 6 while another dirsyncd holds it), keeps it alive while the sync
// waits on the API, and runs the same full sync as into SQLite. Its PostgreSQL calls run on the
// io_context thread: a --once run has no event poll or watchdog for them to stall.
#pragma once

#include "api/api_client.hpp"
#include "settings/settings.hpp"
#include "sync/operator_sync.hpp"

#include <boost/asio/io_context.hpp>

#include <map>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

// Returns the exit code (exit_codes.hpp); writes the reason of a failure to stderr.
// `environment` is the process's (PGPASSFILE, CREDENTIALS_DIRECTORY).
int run_once_postgres(boost::asio::io_context& ioc, api::ApiClient& api, spdlog::logger& log,
                      settings::Settings const& cfg,
                      std::map<std::string, std::string> const& environment,
                      std::optional<sync::OperatorRequest> request = std::nullopt);

} // namespace dirsync::daemon
