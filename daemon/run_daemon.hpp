// Daemon mode: the scheduler under signals and systemd, until SIGTERM/SIGINT.
#pragma once

#include "api/api_client.hpp"
#include "daemon_tasks.hpp"
#include "database_watch.hpp"
#include "http/beast_transport.hpp"
#include "settings/settings.hpp"
#include "store/event_store.hpp"
#include "sync/directory_sync.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace SQLite {
class Database;
}

namespace dirsync::daemon {

struct DaemonServices {
    sync::SyncServices sync;
    store::EventStore& events;
    http::BeastTransport& transport;
    DatabaseWatch const& database;
    SQLite::Database& db; // mirror_status and the metrics
};

// Runs until SIGTERM/SIGINT (exit 0), the database file deleted or replaced (exit 5) or an
// unrecoverable error (exit 1). SIGHUP re-reads the config (and the API key) and starts a full
// resync; SIGUSR1 logs the status of every directory.
int run_daemon(boost::asio::io_context& ioc, DaemonServices services,
               settings::Settings const& settings, Reloader reload);

} // namespace dirsync::daemon
