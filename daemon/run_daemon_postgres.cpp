#include "run_daemon_postgres.hpp"

#include "api/retry_policy.hpp"
#include "control_protocol.hpp"
#include "control_server.hpp"
#include "exit_codes.hpp"
#include "metrics.hpp"
#include "metrics_server.hpp"
#include "model/timestamp.hpp"
#include "pg/connection.hpp"
#include "pg/daemon_status.hpp"
#include "pg/event_store.hpp"
#include "pg/mirror_store.hpp"
#include "pg/schema.hpp"
#include "pg/status_report.hpp"
#include "pg/writer_lease.hpp"
#include "postgres_session.hpp"
#include "sched/scheduler.hpp"
#include "systemd_notifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <unistd.h>

namespace dirsync::daemon {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string host_name()
{
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0)
        return "unknown-host";
    return name;
}

bool cancelled(asio::cancellation_state const& cs)
{
    return cs.cancelled() != asio::cancellation_type::none;
}

// One dirsyncd's part in a shared mirror: it connects (with backoff), waits as a standby until
// the writer lease is free, writes while it holds it, and when it loses it (its session ended)
// goes back to connecting. Every PostgreSQL call runs on the io_context's thread: the writer's
// session is the one that holds the lease, so its writes and its keepalive must be one session;
// each call is bounded by the connection's TCP timeouts and the server's idle timeouts
// (doc/postgres.md weighs a store thread).
class SharedMirrorDaemon {
public:
    SharedMirrorDaemon(PostgresDaemonServices svc, ConfigReload& reload, SystemdNotifier& notifier,
                       DaemonObserver& observer)
        : svc_(svc)
        , reload_(reload)
        , notifier_(notifier)
        , observer_(observer)
        , where_(postgres_where(reload.current().database, reload.current().database_schema))
    {
    }

    // Never returns on its own: cancelled at the stop signal; throws what the scheduler cannot
    // recover from.
    asio::awaitable<void> run()
    {
        for (;;) {
            co_await connect();
            bool const writer = co_await wait_for_lease(); // not in the if: gcc 12 miscompiles it
            if (writer)
                co_await write();
            db_.reset(); // a new session: the old one's lease (if any) is gone
            lease_.reset();
        }
    }

    // After the io_context stopped: the writer clears daemon_pid and releases the lease, so that
    // a standby takes over at its next try; a standby removes its row.
    void shutdown()
    {
        if (!db_ || !db_->alive())
            return;
        try {
            if (lease_ && lease_->held()) {
                pg::DaemonStatus(*db_).stopped();
                lease_->release();
                svc_.log.info("{}: released the writer lease", where_);
            } else
                pg::forget_standby(*db_, host_, pid_);
        } catch (pg::Error const& e) { // the session's end releases the lease too
            svc_.log.error("{}: {}", where_, e.what());
        }
    }

    HttpAnswer answer(std::string const& target)
    {
        auto const path = target.substr(0, target.find('?'));
        if (path == "/metrics") {
            auto const writer = [](int v) {
                return fmt::format("# HELP dirsyncd_writer 1 while this dirsyncd writes the shared "
                                   "PostgreSQL mirror, 0 while it is a standby or cannot reach "
                                   "the database\n# TYPE dirsyncd_writer gauge\ndirsyncd_writer "
                                   "{}\n",
                                   v);
            };
            if (!metrics_)
                return {200, "text/plain; version=0.0.4; charset=utf-8", writer(0)};
            try {
                return {200, "text/plain; version=0.0.4; charset=utf-8",
                        metrics_->render() + writer(1)};
            } catch (std::exception const& e) {
                svc_.log.error("metrics: cannot read the mirror: {}", e.what());
                return {500, "text/plain; charset=utf-8",
                        fmt::format("cannot read the mirror: {}\n", e.what())};
            }
        }
        if (path == "/healthz") {
            if (scheduler_) {
                auto const h = scheduler_->health();
                return {h.healthy ? 200u : 503u, "text/plain; charset=utf-8", h.reason + "\n"};
            }
            if (standby_) // ready to take over: healthy, and says what it is
                return {200, "text/plain; charset=utf-8",
                        fmt::format("standby: another dirsyncd is the writer of {}\n", where_)};
            return {
                503, "text/plain; charset=utf-8",
                fmt::format("cannot reach {}: {}\n", where_, last_error_.value_or("connecting"))};
        }
        return {404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n"};
    }

    // A control request: the writer's scheduler does it; a standby reloads its config, and
    // sends the rest to the writer's host (exit 6, as --once would while the lease is held).
    asio::awaitable<ControlReply> control(ControlRequest request)
    {
        if (scheduler_)
            co_return co_await steer(std::move(request), *scheduler_, reload_, cfg().api_url);
        if (request.command == "reload") {
            if (auto error = reload_("reload"))
                co_return ControlReply{
                    exit_usage, fmt::format("the daemon kept its configuration: {}", *error)};
            co_return ControlReply{exit_ok, "configuration reloaded (this dirsyncd is a standby: "
                                            "it takes effect when it becomes the writer)"};
        }
        co_return ControlReply{
            exit_locked,
            fmt::format("{}: this dirsyncd is {} of {}; the writer does the syncs: run the "
                        "command on the writer's host (dirsyncd status names its pid)",
                        request.command, standby_ ? "a standby" : "not connected to", where_)};
    }

    void log_status()
    {
        if (scheduler_)
            scheduler_->log_status();
        else
            svc_.log.info("status: {} of {}", standby_ ? "standby" : "connecting to", where_);
    }

private:
    settings::Settings const& cfg() const { return reload_.current(); }

    asio::awaitable<void> sleep(std::chrono::milliseconds delay)
    {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(delay);
        co_await timer.async_wait(asio::use_awaitable); // throws when cancelled
    }

    // Connects and migrates, retrying with backoff (1 s doubling up to the poll interval, so
    // that a standby is back in the race soon after the server is).
    asio::awaitable<void> connect()
    {
        RetryPolicy const backoff{
            0, 1s, std::max<std::chrono::milliseconds>(cfg().poll_interval, 1s), {}};
        for (int failures = 0;; ++failures) {
            try {
                db_ = std::make_unique<pg::Connection>(cfg().database);
                auto const m = pg::migrate_schema(*db_, cfg().database_schema);
                if (!m.from)
                    svc_.log.info("{}: schema created at version {}", where_, m.to);
                else if (m.changed())
                    svc_.log.info("{}: schema migrated from version {} to {}", where_, *m.from,
                                  m.to);
                if (failures > 0)
                    svc_.log.info("{}: connected again after {} failed attempts", where_, failures);
                last_error_.reset();
                co_return;
            } catch (std::exception const& e) { // pg::Error, pg::SchemaError
                db_.reset();
                last_error_ = e.what();
            }
            auto const delay = api::backoff_delay(
                backoff, failures + 1, std::uniform_real_distribution<double>(0, 1)(rng_));
            svc_.log.error("{}: {}; the mirror stays as the last commit left it; retrying in "
                           "{} ms",
                           where_, *last_error_, delay.count());
            notifier_.status(fmt::format("cannot reach {}: {}", where_, *last_error_));
            notifier_.first_sync_progress(); // alive, and systemd's start timeout extended
            co_await sleep(delay);
        }
    }

    // A standby until the lease is free; true once it holds it, false when the session is lost.
    asio::awaitable<bool> wait_for_lease()
    {
        auto const since = now_text();
        try {
            lease_ = std::make_unique<pg::WriterLease>(*db_, cfg().database_schema,
                                                       lease_idle_timeout(cfg().poll_interval));
            for (bool announced = false;;) {
                if (lease_->try_acquire()) {
                    pg::forget_standby(*db_, host_, pid_);
                    standby_ = false;
                    co_return true;
                }
                pg::record_standby(*db_, host_, pid_, since, now_text(), cfg().poll_interval);
                if (!announced) {
                    announced = true;
                    standby_ = true;
                    svc_.log.info("{}: standby: another dirsyncd is the writer (it holds the "
                                  "writer lease); trying to take over every {} ms",
                                  where_, cfg().poll_interval.count());
                    notifier_.status(
                        fmt::format("standby: another dirsyncd is the writer of {}", where_));
                    notifier_.mirror_ready(); // started, and ready to take over
                }
                observer_.alive();
                co_await sleep(cfg().poll_interval);
            }
        } catch (pg::Error const& e) {
            standby_ = false;
            last_error_ = e.what();
            svc_.log.error("{}: {}; connecting again", where_, e.what());
        }
        co_return false;
    }

    // The writer's term: the scheduler on this session, beside the lease's keepalive. Ends when
    // the lease is lost (back to connecting); rethrows a stop or a failure of the scheduler.
    asio::awaitable<void> write()
    {
        pg::MirrorStore store(*db_);
        pg::EventStore events(*db_);
        pg::DaemonStatus status(*db_);
        sched::Scheduler scheduler(co_await asio::this_coro::executor,
                                   sync::SyncServices{svc_.api, store, svc_.log}, events, status,
                                   scheduler_options(cfg()), observer_);
        Metrics metrics(svc_.api, scheduler, [this] { return pg::read_status(*db_); });
        struct Term { // what /healthz, /metrics, SIGHUP and SIGUSR1 reach while it lasts
            SharedMirrorDaemon& d;
            DaemonObserver& o;
            ~Term()
            {
                d.scheduler_ = nullptr;
                d.metrics_ = nullptr;
                d.reload_.attach(nullptr);
                o.metrics = nullptr;
            }
        } term{*this, observer_};
        scheduler_ = &scheduler;
        metrics_ = &metrics;
        reload_.attach(&scheduler);
        observer_.metrics = &metrics;
        try {
            status.started(static_cast<long>(pid_), now_text(), cfg().poll_interval,
                           cfg().status_heartbeat);
        } catch (pg::Error const& e) {
            svc_.log.error("mirror_status: {}", e.what());
        }
        svc_.log.info("{}: this dirsyncd is the writer now (session {}); mirroring from {}", where_,
                      db_->backend_pid(), cfg().api_url);

        auto const idle = lease_idle_timeout(cfg().poll_interval);
        auto ex = co_await asio::this_coro::executor;
        auto [order, run_error, lease_error] =
            co_await asio::experimental::make_parallel_group(
                asio::co_spawn(ex, scheduler.run(), asio::deferred),
                asio::co_spawn(ex, keep_lease(*lease_, idle / 4, where_), asio::deferred))
                .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        if (cancelled(co_await asio::this_coro::cancellation_state))
            throw boost::system::system_error(asio::error::operation_aborted);
        if (order[0] == 0 && run_error)
            std::rethrow_exception(run_error); // the scheduler cannot go on
        try {
            if (lease_error)
                std::rethrow_exception(lease_error);
        } catch (std::exception const& e) {
            svc_.log.error("{}; the mirror stays as the last commit left it; connecting again, as "
                           "a standby until the lease is free",
                           e.what());
            last_error_ = e.what();
        }
    }

    PostgresDaemonServices svc_;
    ConfigReload& reload_;
    SystemdNotifier& notifier_;
    DaemonObserver& observer_;
    std::string const where_;
    std::string const host_ = host_name();
    long const pid_ = static_cast<long>(::getpid());
    std::mt19937_64 rng_{std::random_device{}()};

    std::unique_ptr<pg::Connection> db_;
    std::unique_ptr<pg::WriterLease> lease_;
    bool standby_ = false;
    std::optional<std::string> last_error_;
    sched::Scheduler* scheduler_ = nullptr;
    Metrics* metrics_ = nullptr;
};

// Runs the daemon's tasks until the first ends: the stop signal (exit 0) or the scheduler
// failing beyond repair (exit 1).
asio::awaitable<int> supervise(SharedMirrorDaemon& daemon, PostgresDaemonServices services,
                               SystemdNotifier& notifier, ConfigReload& reload)
{
    auto ex = co_await asio::this_coro::executor;
    auto [order, run_error, stop_error, signo, signals_error] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex, daemon.run(), asio::deferred),
            asio::co_spawn(ex, wait_for_stop(services.log, notifier, services.transport),
                           asio::deferred),
            asio::co_spawn(ex, handle_signals(reload, [&] { daemon.log_status(); }),
                           asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)signo;
    (void)stop_error;
    if (order[0] == 1)
        co_return exit_ok;
    try {
        if (auto failure = order[0] == 0 ? run_error : signals_error)
            std::rethrow_exception(failure);
        services.log.critical("the daemon stopped unexpectedly");
    } catch (std::exception const& e) {
        services.log.critical("the scheduler failed: {}", e.what());
        std::cerr << "dirsyncd: the scheduler failed: " << e.what() << std::endl;
    }
    co_return exit_sync_failed;
}

} // namespace

int run_daemon_postgres(asio::io_context& ioc, PostgresDaemonServices services,
                        settings::Settings const& settings,
                        std::map<std::string, std::string> const& environment, Reloader reload)
{
    auto& log = services.log;
    auto const where = postgres_where(settings.database, settings.database_schema);
    use_password_credential(environment, log, where);
    log.info("dirsyncd {}: mirroring into {} from {}, as its writer or a standby", DIRSYNCD_VERSION,
             where, settings.api_url);
    SystemdNotifier notifier;
    DaemonObserver observer(notifier);
    ConfigReload config_reload(nullptr, log, notifier, services.api, settings, std::move(reload));
    SharedMirrorDaemon daemon(services, config_reload, notifier, observer);

    std::unique_ptr<MetricsServer> server;
    try {
        server = open_metrics(
            ioc.get_executor(), settings,
            [&](std::string const& target) { return daemon.answer(target); }, log);
    } catch (std::runtime_error const& e) {
        log.critical("{}", e.what());
        std::cerr << "dirsyncd: " << e.what() << std::endl;
        return exit_usage;
    }
    auto const socket = control_socket_path(settings);
    if (!settings.control_socket) { // the default's directory, when systemd did not make it
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(socket).parent_path(), ec);
    }
    auto control = open_control(
        ioc.get_executor(), socket, [&](ControlRequest r) { return daemon.control(std::move(r)); },
        log);

    int code = exit_sync_failed;
    asio::co_spawn(ioc, supervise(daemon, services, notifier, config_reload),
                   [&](std::exception_ptr e, int c) {
                       if (!e)
                           code = c;
                       if (server)
                           server->stop();
                       if (control)
                           control->stop();
                       ioc.stop();
                   });
    ioc.run();
    daemon.shutdown();
    log.info("dirsyncd stopped");
    return code;
}

} // namespace dirsync::daemon
