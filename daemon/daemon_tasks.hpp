// What daemon mode does the same way whichever database holds the mirror (run_daemon for SQLite,
// run_daemon_postgres for PostgreSQL): the scheduler's options and observer, the stop signal,
// SIGHUP/SIGUSR1 and the configuration reload.
#pragma once

#include "api/api_client.hpp"
#include "control_protocol.hpp"
#include "control_server.hpp"
#include "http/beast_transport.hpp"
#include "metrics.hpp"
#include "metrics_server.hpp"
#include "sched/scheduler.hpp"
#include "settings/settings.hpp"
#include "systemd_notifier.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

sched::SchedulerOptions scheduler_options(settings::Settings const& s);

// The scheduler's observer in the daemon: systemd, and the metrics' full-sync histogram.
class DaemonObserver : public sched::SchedulerObserver {
public:
    explicit DaemonObserver(SystemdNotifier& systemd)
        : systemd_(systemd)
    {
    }
    void mirror_ready() override { systemd_.mirror_ready(); }
    void status(std::string const& line) override { systemd_.status(line); }
    void alive() override { systemd_.alive(); }
    void first_sync_progress() override { systemd_.first_sync_progress(); }
    void full_sync_finished(std::chrono::duration<double> took) override
    {
        if (metrics)
            metrics->observe_full_sync(took);
    }
    Metrics* metrics = nullptr;

private:
    SystemdNotifier& systemd_;
};

// Re-reads the configuration and the API key for SIGHUP: the new ones, or an error message.
struct Reloaded {
    settings::Settings settings;
    std::string api_key;
};
using Reloader = std::function<std::variant<Reloaded, std::string>()>;

// SIGHUP and `dirsyncd reload`: re-reads the config and the API key; the new ones take effect
// at the next poll and sync, or the old ones stay. Without a scheduler (a standby), they wait for
// the next one.
class ConfigReload {
public:
    ConfigReload(sched::Scheduler* scheduler, spdlog::logger& log, SystemdNotifier& notifier,
                 api::ApiClient& api, settings::Settings current, Reloader reload);

    // Returns the error, if any; starts a full resync either way.
    std::optional<std::string> operator()(char const* why);
    void attach(sched::Scheduler* scheduler) { scheduler_ = scheduler; }
    settings::Settings const& current() const { return current_; }

private:
    sched::Scheduler* scheduler_;
    spdlog::logger& log_;
    SystemdNotifier& notifier_;
    api::ApiClient& api_;
    settings::Settings current_;
    Reloader reload_;
};

// Ends at SIGINT/SIGTERM with its number, after telling systemd and abandoning the requests in
// flight.
boost::asio::awaitable<int> wait_for_stop(spdlog::logger& log, SystemdNotifier& notifier,
                                          http::BeastTransport& transport);

// SIGHUP reloads; SIGUSR1 calls `log_status`. Never ends on its own.
boost::asio::awaitable<void> handle_signals(ConfigReload& reload, std::function<void()> log_status);

// The control socket, accepting; nullptr (logged, the daemon runs on) when it cannot be opened.
std::unique_ptr<ControlServer> open_control(boost::asio::any_io_executor ex,
                                            std::string const& path, ControlHandler handler,
                                            spdlog::logger& log);

// The metrics endpoint of metrics_address, serving (nullptr when none is set); throws
// std::runtime_error naming the address when it cannot listen.
std::unique_ptr<MetricsServer> open_metrics(boost::asio::any_io_executor ex,
                                            settings::Settings const& s, HttpHandler handler,
                                            spdlog::logger& log);

// The control channel's requests (control_protocol.hpp), done by the scheduler.
boost::asio::awaitable<ControlReply> steer(ControlRequest request, sched::Scheduler& scheduler,
                                           ConfigReload& reload, std::string const& api_url);

} // namespace dirsync::daemon
