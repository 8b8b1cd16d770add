#include "daemon_tasks.hpp"

#include "exit_codes.hpp"
#include "run_once.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>

namespace dirsync::daemon {
namespace asio = boost::asio;

sched::SchedulerOptions scheduler_options(settings::Settings const& s)
{
    sched::SchedulerOptions o;
    o.sync = s.sync;
    o.events.event_types = s.event_types;
    o.events.retention = s.event_retention;
    o.poll_interval = s.poll_interval;
    o.full_resync_interval = s.full_resync_interval;
    o.changes_retention = s.changes_retention;
    o.status_heartbeat = s.status_heartbeat;
    return o;
}

ConfigReload::ConfigReload(sched::Scheduler* scheduler, spdlog::logger& log,
                           SystemdNotifier& notifier, api::ApiClient& api,
                           settings::Settings current, Reloader reload)
    : scheduler_(scheduler)
    , log_(log)
    , notifier_(notifier)
    , api_(api)
    , current_(std::move(current))
    , reload_(std::move(reload))
{
}

std::optional<std::string> ConfigReload::operator()(char const* why)
{
    notifier_.reloading();
    auto fresh = reload_();
    std::optional<std::string> error;
    if (auto const* e = std::get_if<std::string>(&fresh)) {
        error = *e;
        log_.error("{}: the configuration was not reloaded, the old one stays: {}", why, *e);
    } else {
        auto& r = std::get<Reloaded>(fresh);
        auto& s = r.settings;
        api_.set_api_key(r.api_key);
        if (s.api_url != current_.api_url || s.database != current_.database ||
            s.database_schema != current_.database_schema || s.ca_file != current_.ca_file ||
            s.log_level != current_.log_level)
            log_.warn("{}: api_url, database, database_schema, ca_file and log_level take effect "
                      "at the next start",
                      why);
        if (scheduler_)
            scheduler_->reconfigure(scheduler_options(s));
        current_ = std::move(s);
        log_.info("{}: configuration reloaded", why);
    }
    if (scheduler_)
        scheduler_->request_full_resync(why);
    else
        log_.info("{}: a standby does not sync; the writer is the one to ask", why);
    notifier_.reloaded();
    return error;
}

asio::awaitable<int> wait_for_stop(spdlog::logger& log, SystemdNotifier& notifier,
                                   http::BeastTransport& transport)
{
    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    int const signo = co_await signals.async_wait(asio::use_awaitable);
    log.info("signal {} received: stopping (requests in flight are abandoned, nothing half-done "
             "is committed)",
             signo);
    notifier.stopping();
    transport.shutdown();
    co_return signo;
}

asio::awaitable<void> handle_signals(ConfigReload& reload, std::function<void()> log_status)
{
    asio::signal_set signals(co_await asio::this_coro::executor, SIGHUP, SIGUSR1);
    for (;;) {
        int const signo = co_await signals.async_wait(asio::use_awaitable);
        if (signo == SIGUSR1)
            log_status();
        else
            reload("SIGHUP");
    }
}

// The control channel's requests (control_protocol.hpp), done by the scheduler.
std::unique_ptr<ControlServer> open_control(asio::any_io_executor ex, std::string const& path,
                                            ControlHandler handler, spdlog::logger& log)
{
    try {
        auto control = std::make_unique<ControlServer>(ex, path, std::move(handler), log);
        control->start();
        log.info("control: listening on {} (dirsyncd resync, evict, allow-deletions, reload)",
                 control->path());
        return control;
    } catch (std::runtime_error const& e) {
        log.error("{}; the daemon runs, but the resync, evict, allow-deletions and reload "
                  "commands cannot reach it (SIGHUP still works; control_socket sets another "
                  "path)",
                  e.what());
        return nullptr;
    }
}

std::unique_ptr<MetricsServer> open_metrics(asio::any_io_executor ex, settings::Settings const& s,
                                            HttpHandler handler, spdlog::logger& log)
{
    if (!s.metrics_address)
        return nullptr;
    auto server = std::make_unique<MetricsServer>(ex, *s.metrics_address, std::move(handler), log);
    server->start();
    log.info("metrics: serving {}/metrics and /healthz", server->where());
    return server;
}

boost::asio::awaitable<ControlReply> steer(ControlRequest request, sched::Scheduler& scheduler,
                                           ConfigReload& reload, std::string const& api_url)
{
    if (request.command == "reload") {
        if (auto error = reload("reload"))
            co_return ControlReply{exit_usage,
                                   fmt::format("the daemon kept its configuration: {}", *error)};
        co_return ControlReply{exit_ok, "configuration reloaded; a full resync of every "
                                        "directory started"};
    }
    auto const action = sync::parse_operator_action(request.command);
    if (!action)
        co_return ControlReply{exit_usage,
                               fmt::format("unknown control command '{}'", request.command)};
    sync::OperatorRequest job{*action, request.directories};
    if (!request.wait) {
        scheduler.queue_operator_request(std::move(job));
        co_return ControlReply{exit_ok, fmt::format("{}: queued; the daemon's log and `dirsyncd "
                                                    "status` tell how it went",
                                                    request.command)};
    }
    auto outcome = co_await scheduler.operator_request(std::move(job));
    auto const o = outcome_of(outcome.report, outcome.error, api_url);
    co_return ControlReply{
        o.code, o.code == exit_ok ? fmt::format("{}: {}", request.command, o.message) : o.message};
}

} // namespace dirsync::daemon
