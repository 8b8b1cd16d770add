// `dirsyncd --once`: one full sync of every directory in scope, then an exit code.
#pragma once

#include "api/api_client.hpp"
#include "database_watch.hpp"
#include "sync/failure.hpp"
#include "sync/full_sync.hpp"
#include "sync/operator_sync.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <string>

namespace dirsync::daemon {

struct Outcome {
    int code;
    std::string message; // for stderr; empty on success
};

// Turns what ended a run into an exit code (exit_codes.hpp) and one line for the operator.
Outcome outcome_of(sync::Failure const& failure, std::string const& api_url);
// ... the whole run: what failed it, else its directories' failures, else a summary of it.
Outcome outcome_of(sync::FullSyncReport const& report, std::exception_ptr const& error,
                   std::string const& api_url);

// What a sync run on the io_context ended with: its report, or what failed it.
struct SyncEnd {
    sync::FullSyncReport report;
    std::exception_ptr error;
};
// What runs beside a sync and ends with it (the PostgreSQL writer lease's keepalive): it never
// returns while the sync runs, and when it throws, the sync is stopped with that error.
using Alongside = std::function<boost::asio::awaitable<void>()>;

// Runs `job` on `ioc` until it ends, or until SIGINT/SIGTERM cancels it (logged), or until
// `alongside` fails.
SyncEnd run_until_done(boost::asio::io_context& ioc,
                       boost::asio::awaitable<sync::FullSyncReport> job, spdlog::logger& log,
                       Alongside alongside = {});

// Runs the sync on `ioc` until it ends or SIGINT/SIGTERM cancels it: a full sync of every
// directory, or what an operator asked for (`request`, when the daemon does not run). Logs a
// summary, writes the one-line reason of a failure to stderr, and returns the exit code
// (exit_codes.hpp). A database file deleted or replaced during the run fails it (exit 5): its
// work went to the old file. `database` is null for a PostgreSQL mirror (no file to watch).
int run_once(boost::asio::io_context& ioc, sync::SyncServices services, FullSyncOptions options,
             std::string const& api_url, DatabaseWatch const* database,
             std::optional<sync::OperatorRequest> request = std::nullopt, Alongside alongside = {});

} // namespace dirsync::daemon
