#include "run_once.hpp"

#include "exit_codes.hpp"
#include "sync/failure.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>

namespace dirsync::daemon {
namespace asio = boost::asio;

Outcome outcome_of(sync::Failure const& f, std::string const& api_url)
{
    using sync::FailureKind;
    switch (f.kind) {
    case FailureKind::auth:
        return {exit_auth, fmt::format("the WorkOS API rejected the API key ({}); check "
                                       "WORKOS_API_KEY or api_key_file",
                                       f.message)};
    case FailureKind::api:
        return {exit_sync_failed, fmt::format("WorkOS API error: {}", f.message)};
    case FailureKind::tls:
        return {exit_unreachable, fmt::format("TLS failure talking to {}: {}", api_url, f.message)};
    case FailureKind::network:
        return {exit_unreachable, fmt::format("cannot reach {}: {}", api_url, f.message)};
    case FailureKind::protocol:
        return {exit_sync_failed, fmt::format("bad response from {}: {}", api_url, f.message)};
    case FailureKind::database:
    case FailureKind::store:
        return {exit_database, f.message};
    case FailureKind::cancelled:
        return {exit_sync_failed, "interrupted by a signal; the mirror keeps its last complete "
                                  "state and the next run resumes"};
    case FailureKind::held:
    case FailureKind::sync:
    case FailureKind::other:
        break;
    }
    return {exit_sync_failed, f.message};
}

namespace {

// Several directories failed: the exit code of the most telling failure, the first's text.
Outcome outcome_of(std::vector<sync::DirectoryFailure> const& failures, std::size_t synced)
{
    auto const any = [&](sync::FailureKind kind) {
        return std::any_of(failures.begin(), failures.end(),
                           [kind](auto const& f) { return f.kind == kind; });
    };
    auto const& first = failures.front();
    return {any(sync::FailureKind::auth)       ? exit_auth
            : any(sync::FailureKind::database) ? exit_database
                                               : exit_sync_failed,
            fmt::format("{} of {} directories failed to sync; first: directory {}: {}",
                        failures.size(), failures.size() + synced, first.directory_id,
                        first.message)};
}

} // namespace

Outcome outcome_of(sync::FullSyncReport const& report, std::exception_ptr const& error,
                   std::string const& api_url)
{
    if (error)
        return outcome_of(sync::classify_failure(error), api_url);
    if (!report.failures.empty())
        return outcome_of(report.failures, report.synced.size());
    return {exit_ok, fmt::format("{} directories ({} users, {} groups, {} memberships), {} "
                                 "removed",
                                 report.synced.size(), report.users, report.groups,
                                 report.memberships, report.removed.size())};
}

SyncEnd run_until_done(asio::io_context& ioc, asio::awaitable<sync::FullSyncReport> job,
                       spdlog::logger& log, Alongside alongside)
{
    asio::cancellation_signal cancel, stop_alongside;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signo) {
        if (ec)
            return;
        log.warn("signal {} received: stopping the sync", signo);
        cancel.emit(asio::cancellation_type::terminal);
    });
    SyncEnd end;
    bool done = false;
    std::exception_ptr alongside_error;
    if (alongside)
        asio::co_spawn(
            ioc, alongside(),
            asio::bind_cancellation_slot(stop_alongside.slot(), [&](std::exception_ptr e) {
                if (done || !e)
                    return;
                alongside_error = e;
                cancel.emit(asio::cancellation_type::terminal);
            }));
    asio::co_spawn(ioc, std::move(job),
                   asio::bind_cancellation_slot(
                       cancel.slot(), [&](std::exception_ptr e, sync::FullSyncReport r) {
                           done = true;
                           end.error = e;
                           end.report = std::move(r);
                           signals.cancel();
                           stop_alongside.emit(asio::cancellation_type::terminal);
                       }));
    ioc.run();
    if (alongside_error) // what stopped the sync, rather than "interrupted"
        end.error = alongside_error;
    return end;
}

int run_once(asio::io_context& ioc, sync::SyncServices svc, FullSyncOptions options,
             std::string const& api_url, DatabaseWatch const* database,
             std::optional<sync::OperatorRequest> request, Alongside alongside)
{
    auto& log = svc.log;
    auto const started = std::chrono::steady_clock::now();
    auto job = request ? sync::run_operator_request(svc, std::move(options), std::move(*request))
                       : sync::run_full_sync(svc, std::move(options));
    auto [report, error] = run_until_done(ioc, std::move(job), log, std::move(alongside));

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

    Outcome outcome = outcome_of(report, error, api_url);
    if (auto problem = database ? database->problem() : std::nullopt) {
        database->remove_stale_companions(); // the old file's WAL must not meet the new file
        outcome = {exit_database, *problem + "; what this run wrote went to the old file: run it "
                                             "again"};
    }
    if (outcome.code == exit_ok) {
        log.info("{} complete: {}", request ? "operator sync" : "full sync", outcome.message);
        return exit_ok;
    }
    log.critical("{}", outcome.message);
    std::cerr << "dirsyncd: " << outcome.message << std::endl;
    return outcome.code;
}

} // namespace dirsync::daemon
