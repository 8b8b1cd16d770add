#include "run_daemon.hpp"

#include "control_protocol.hpp"
#include "control_server.hpp"
#include "daemon_tasks.hpp"
#include "exit_codes.hpp"
#include "metrics.hpp"
#include "metrics_server.hpp"
#include "model/timestamp.hpp"
#include "run_once.hpp"
#include "sched/scheduler.hpp"
#include "store/daemon_status.hpp"
#include "store/database.hpp"
#include "store/status_report.hpp"
#include "systemd_notifier.hpp"

#include <SQLiteCpp/Exception.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace dirsync::daemon {
namespace asio = boost::asio;

namespace {

HttpAnswer answer(std::string const& target, sched::Scheduler const& scheduler, Metrics& metrics,
                  spdlog::logger& log)
{
    auto const path = target.substr(0, target.find('?'));
    if (path == "/metrics") {
        try {
            return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()};
        } catch (std::exception const& e) {
            log.error("metrics: cannot read the mirror: {}", e.what());
            return {500, "text/plain; charset=utf-8",
                    fmt::format("cannot read the mirror: {}\n", e.what())};
        }
    }
    if (path == "/healthz") {
        auto const h = scheduler.health();
        return {h.healthy ? 200u : 503u, "text/plain; charset=utf-8", h.reason + "\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n"};
}

// Returns what happened when the database file is no longer the one we opened (checked every
// second).
asio::awaitable<std::string> watch_database(DatabaseWatch const& watch, spdlog::logger& log,
                                            SystemdNotifier& notifier,
                                            http::BeastTransport& transport)
{
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(asio::use_awaitable);
        if (auto problem = watch.problem()) {
            auto const removed = watch.remove_stale_companions();
            log.critical("{}; stopping without writing to it again (the file that is there now, "
                         "if any, is left as it is; a restart opens it){}",
                         *problem,
                         removed.empty() ? ""
                                         : fmt::format("; removed the old file's {}",
                                                       fmt::join(removed, " and ")));
            notifier.stopping();
            transport.shutdown();
            co_return *problem;
        }
    }
}

// Runs the daemon's tasks until the first ends; whichever ends first cancels the others: the
// stop signal (exit 0), the database file going away (exit 5), or the scheduler failing beyond
// repair (exit 1); systemd restarts us after the last two.
asio::awaitable<int> supervise(sched::Scheduler& scheduler, DaemonServices services,
                               SystemdNotifier& notifier, ConfigReload& reload)
{
    auto& log = services.sync.log;
    auto ex = co_await asio::this_coro::executor;
    auto [order, run_error, stop_error, signo, signals_error, watch_error, problem] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex, scheduler.run(), asio::deferred),
            asio::co_spawn(ex, wait_for_stop(log, notifier, services.transport), asio::deferred),
            asio::co_spawn(ex, handle_signals(reload, [&] { scheduler.log_status(); }),
                           asio::deferred),
            asio::co_spawn(ex, watch_database(services.database, log, notifier, services.transport),
                           asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)signo;
    if (order[0] == 1)
        co_return exit_ok;
    if (order[0] == 3 && !watch_error) {
        std::cerr << "dirsyncd: " << problem << std::endl;
        co_return exit_database;
    }
    std::exception_ptr failure = order[0] == 0   ? run_error
                                 : order[0] == 2 ? signals_error
                                                 : watch_error;
    try {
        if (failure)
            std::rethrow_exception(failure);
        log.critical("the scheduler stopped unexpectedly");
    } catch (std::exception const& e) {
        log.critical("the scheduler failed: {}", e.what());
        std::cerr << "dirsyncd: the scheduler failed: " << e.what() << std::endl;
    }
    co_return exit_sync_failed;
}

} // namespace

int run_daemon(asio::io_context& ioc, DaemonServices services, settings::Settings const& settings,
               Reloader reload)
{
    auto& log = services.sync.log;
    SystemdNotifier notifier;
    DaemonObserver observer(notifier);
    store::DaemonStatus status(services.db);
    sched::Scheduler scheduler(ioc.get_executor(), services.sync, services.events, status,
                               scheduler_options(settings), observer);
    Metrics metrics(services.sync.api, scheduler,
                    [&db = services.db] { return store::read_status(db); });
    observer.metrics = &metrics;
    std::unique_ptr<MetricsServer> server;
    try {
        server = open_metrics(
            ioc.get_executor(), settings,
            [&](std::string const& target) { return answer(target, scheduler, metrics, log); },
            log);
    } catch (std::runtime_error const& e) {
        log.critical("{}", e.what());
        std::cerr << "dirsyncd: " << e.what() << std::endl;
        return exit_usage;
    }
    try {
        status.started(static_cast<long>(::getpid()), now_text(), settings.poll_interval,
                       settings.status_heartbeat);
    } catch (SQLite::Exception const& e) {
        log.error("mirror_status: {}", store::describe_database_error(e));
    }

    ConfigReload config_reload(&scheduler, log, notifier, services.sync.api, settings,
                               std::move(reload));
    auto control = open_control(
        ioc.get_executor(), control_socket_path(settings),
        [&](ControlRequest r) {
            return steer(std::move(r), scheduler, config_reload, settings.api_url);
        },
        log);

    int code = exit_sync_failed;
    asio::co_spawn(ioc, supervise(scheduler, services, notifier, config_reload),
                   [&](std::exception_ptr e, int c) {
                       if (!e)
                           code = c;
                       if (server)
                           server->stop();
                       if (control)
                           control->stop();
                       // operators still waiting see their connection close
                       ioc.stop();
                   });
    ioc.run();
    try {
        status.stopped();
    } catch (SQLite::Exception const& e) {
        log.error("mirror_status: {}", store::describe_database_error(e));
    }
    log.info("dirsyncd stopped");
    return code;
}

} // namespace dirsync::daemon
