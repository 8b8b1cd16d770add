// Daemon mode into a shared PostgreSQL mirror: one dirsyncd per host, one of them the writer
// (it holds the schema's writer lease), the others standbys that take over when the writer's
// session ends. A lost connection is retried with backoff; the mirror stays as the last commit
// left it meanwhile.
#pragma once

#include "api/api_client.hpp"
#include "daemon_tasks.hpp"
#include "http/beast_transport.hpp"
#include "settings/settings.hpp"

#include <boost/asio/io_context.hpp>

#include <map>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

struct PostgresDaemonServices {
    api::ApiClient& api;
    http::BeastTransport& transport;
    spdlog::logger& log;
};

// Runs until SIGTERM/SIGINT (exit 0; the writer releases the lease, so a standby takes over at
// its next try) or a failure beyond repair (exit 1). SIGHUP re-reads the config; SIGUSR1 logs
// the status. `environment` is the process's (PGPASSFILE, CREDENTIALS_DIRECTORY).
int run_daemon_postgres(boost::asio::io_context& ioc, PostgresDaemonServices services,
                        settings::Settings const& settings,
                        std::map<std::string, std::string> const& environment, Reloader reload);

} // namespace dirsync::daemon
