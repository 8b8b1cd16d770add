// Daemon mode: the event stream, full (re)syncs and housekeeping, all on one io_context, with
// one writer to SQLite. The event poll never waits behind a full sync.
#pragma once

#include "api/retry_policy.hpp"
#include "store/event_store.hpp"
#include "sync/event_sync.hpp"
#include "sync/full_sync.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace dirsync::sched {

struct SchedulerOptions {
    sync::FullSyncOptions sync;
    sync::EventSyncOptions events;
    std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};
    std::chrono::seconds full_resync_interval{std::chrono::hours(24)};
    double full_resync_jitter = 0.1; // +- this fraction of the interval
    // A stream without cursor starts this long before the full sync that precedes it.
    std::chrono::seconds stream_start_margin{std::chrono::minutes(5)};
    std::chrono::hours changes_retention{24 * 7};
    std::chrono::seconds housekeeping_interval{std::chrono::minutes(10)};
    // Backoff after failed polls or syncs; a rejected key is retried at auth_retry_interval.
    api::RetryPolicy failure_backoff{0, std::chrono::seconds(1), std::chrono::minutes(5), {}};
    std::chrono::seconds auth_retry_interval{std::chrono::minutes(5)};
};

// What the scheduler tells its host (systemd in the daemon, a recorder in tests).
class SchedulerObserver {
public:
    virtual ~SchedulerObserver() = default;
    virtual void mirror_ready() = 0;             // the mirror is complete (once)
    virtual void status(std::string const&) = 0; // a one-line summary that changed
    virtual void alive() = 0;                    // the loop made progress (watchdog)
    virtual void first_sync_progress() = 0;      // a page of the first full sync was stored
};

// Pure: the delay before the next full resync, `interval` +- `jitter` (a fraction), with
// `unit_random` in [0, 1).
std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double unit_random);

class Scheduler {
public:
    Scheduler(boost::asio::any_io_executor ex, sync::SyncServices services,
              store::EventStore& events, SchedulerOptions options, SchedulerObserver& observer);

    // Runs until cancelled (then throws operation_aborted). Transient failures are logged and
    // retried with backoff; it never returns on its own.
    boost::asio::awaitable<void> run();

    // SIGHUP: a full resync of every directory now, unless one is running (then logged, ignored).
    void request_full_resync(std::string const& reason);
    // SIGHUP after re-reading the config: takes effect at the next poll and sync.
    void reconfigure(SchedulerOptions options);
    // SIGUSR1: one status line per directory, in the log.
    void log_status();

    bool full_sync_running() const { return full_running_; }

private:
    boost::asio::awaitable<void> event_loop();
    boost::asio::awaitable<void> sync_loop();
    boost::asio::awaitable<void> housekeeping_loop();
    boost::asio::awaitable<void> sleep(boost::asio::steady_timer& timer,
                                       std::chrono::milliseconds delay);
    std::chrono::milliseconds failure_delay(int failures);
    void publish_status();
    void schedule_next_full(); // the interval from now, with jitter

    boost::asio::any_io_executor ex_;
    sync::SyncServices svc_;
    store::EventStore& events_;
    SchedulerOptions options_;
    SchedulerObserver& observer_;
    boost::asio::steady_timer sync_wake_;
    boost::asio::steady_timer poll_wake_;
    std::mt19937_64 rng_{std::random_device{}()};

    bool mirror_ready_ = false;   // a complete mirror exists
    bool stream_ready_ = false;   // the event stream has a position to poll from
    bool full_requested_ = false; // a full sync of everything is due
    bool restart_stream_ = false; // after that full sync, restart the stream at its start
    bool full_running_ = false;
    std::set<std::string> directories_requested_; // targeted syncs (activated directories)
    std::chrono::steady_clock::time_point next_full_{};

    // for the status line
    std::uint64_t events_applied_ = 0;
    std::uint64_t events_quarantined_ = 0;
    std::optional<std::string> last_poll_;
    std::optional<std::string> last_full_;
    std::optional<std::string> last_error_;
};

} // namespace dirsync::sched
