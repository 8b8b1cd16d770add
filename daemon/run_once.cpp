#include "run_once.hpp"

#include "exit_codes.hpp"
#include "store/database.hpp"

#include <SQLiteCpp/Exception.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <iostream>

namespace dirsync::daemon {
namespace asio = boost::asio;

namespace {

struct Outcome {
    int code;
    std::string message; // for stderr; empty on success
};

// Turns what ended the sync into an exit code and one line for the operator.
Outcome classify(std::exception_ptr error, std::string const& api_url)
{
    try {
        std::rethrow_exception(error);
    } catch (api::ApiError const& e) {
        if (e.is_auth_failure())
            return {exit_auth,
                    fmt::format("the WorkOS API rejected the API key ({}); check WORKOS_API_KEY "
                                "or api_key_file",
                                e.what())};
        return {exit_sync_failed, fmt::format("WorkOS API error: {}", e.what())};
    } catch (api::TransportError const& e) {
        if (e.kind() == api::TransportError::Kind::tls)
            return {exit_unreachable,
                    fmt::format("TLS failure talking to {}: {}", api_url, e.what())};
        if (e.kind() == api::TransportError::Kind::network)
            return {exit_unreachable, fmt::format("cannot reach {}: {}", api_url, e.what())};
        return {exit_sync_failed, fmt::format("bad response from {}: {}", api_url, e.what())};
    } catch (store::StoreError const& e) {
        return {exit_database, e.what()};
    } catch (SQLite::Exception const& e) {
        return {exit_database,
                fmt::format("database error: {}", store::describe_database_error(e))};
    } catch (boost::system::system_error const& e) {
        if (e.code() == asio::error::operation_aborted)
            return {exit_sync_failed, "interrupted by a signal; the mirror keeps its last "
                                      "complete state and the next run resumes"};
        return {exit_sync_failed, e.what()};
    } catch (std::exception const& e) {
        return {exit_sync_failed, e.what()};
    }
}

} // namespace

int run_once(asio::io_context& ioc, sync::SyncServices svc, sync::FullSyncOptions options,
             std::string const& api_url, DatabaseWatch const& database)
{
    auto& log = svc.log;
    auto const started = std::chrono::steady_clock::now();
    asio::cancellation_signal cancel;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signo) {
        if (ec)
            return;
        log.warn("signal {} received: stopping the sync", signo);
        cancel.emit(asio::cancellation_type::terminal);
    });

    std::exception_ptr error;
    sync::FullSyncReport report;
    asio::co_spawn(ioc, sync::run_full_sync(svc, std::move(options)),
                   asio::bind_cancellation_slot(cancel.slot(),
                                                [&](std::exception_ptr e, sync::FullSyncReport r) {
                                                    error = e;
                                                    report = std::move(r);
                                                    signals.cancel();
                                                }));
    ioc.run();

    auto const& stats = svc.api.stats();
    double const secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string by_endpoint;
    for (std::size_t i = 0; i < api::endpoint_count; ++i)
        if (stats.sent[i] > 0)
            by_endpoint +=
                fmt::format("{}{} {}", by_endpoint.empty() ? "" : ", ",
                            api::endpoint_name(static_cast<api::Endpoint>(i)), stats.sent[i]);
    log.info("requests: {} in {:.1f} s ({}; {} retries, {} throttled)", stats.total(), secs,
             by_endpoint.empty() ? "none" : by_endpoint, stats.retries, [&] {
                 std::uint64_t n = 0;
                 for (auto v : stats.throttled)
                     n += v;
                 return n;
             }());

    Outcome outcome{exit_ok, ""};
    if (auto problem = database.problem()) {
        database.remove_stale_companions(); // the old file's WAL must not meet the new file
        outcome = {exit_database, *problem + "; what this run wrote went to the old file: run it "
                                             "again"};
    } else if (error) {
        outcome = classify(error, api_url);
    } else if (!report.failures.empty()) {
        auto const& first = report.failures.front();
        bool const auth = std::any_of(report.failures.begin(), report.failures.end(),
                                      [](auto const& f) { return f.auth; });
        bool const store_failed = std::any_of(report.failures.begin(), report.failures.end(),
                                              [](auto const& f) { return f.database; });
        outcome = {auth           ? exit_auth
                   : store_failed ? exit_database
                                  : exit_sync_failed,
                   fmt::format("{} of {} directories failed to sync; first: directory {}: {}",
                               report.failures.size(),
                               report.failures.size() + report.synced.size(), first.directory_id,
                               first.message)};
    }
    if (outcome.code == exit_ok) {
        log.info("full sync complete: {} directories ({} users, {} groups, {} memberships), {} "
                 "removed",
                 report.synced.size(), report.users, report.groups, report.memberships,
                 report.removed.size());
        return exit_ok;
    }
    log.critical("{}", outcome.message);
    std::cerr << "dirsyncd: " << outcome.message << std::endl;
    return outcome.code;
}

} // namespace dirsync::daemon
