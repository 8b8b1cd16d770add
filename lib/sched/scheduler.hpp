// Daemon mode: the event stream, full (re)syncs and housekeeping, all on one io_context, with
// one writer to SQLite. The event poll never waits behind a full sync.
#pragma once

#include "model/api_options.hpp"
#include "model/sync_options.hpp"
#include "sched/scheduler_observer.hpp"
#include "store/event_writer.hpp"
#include "store/status_writer.hpp"
#include "sync/event_sync.hpp"
#include "sync/failure.hpp"
#include "sync/full_sync.hpp"
#include "sync/operator_sync.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace dirsync::sched {

struct SchedulerOptions {
    FullSyncOptions sync;
    EventSyncOptions events;
    std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};
    std::chrono::seconds full_resync_interval{std::chrono::hours(24)};
    double full_resync_jitter = 0.1; // +- this fraction of the interval
    // A stream without cursor starts this long before the full sync that precedes it.
    std::chrono::seconds stream_start_margin{std::chrono::minutes(5)};
    std::chrono::hours changes_retention{24 * 7};
    std::chrono::seconds housekeeping_interval{std::chrono::minutes(10)};
    // Backoff after failed polls or syncs; a rejected key is retried at auth_retry_interval.
    RetryPolicy failure_backoff{0, std::chrono::seconds(1), std::chrono::minutes(5), {}};
    std::chrono::seconds auth_retry_interval{std::chrono::minutes(5)};
    // mirror_status.caught_up_at is rewritten at most this often when nothing else changed
    std::chrono::seconds status_heartbeat{60};
};

// What the metrics show of the loops (counts since the start).
struct SchedulerStats {
    std::uint64_t events_applied = 0;
    std::uint64_t events_quarantined = 0;
    std::uint64_t events_out_of_order = 0; // pages whose ids did not ascend
};

// GET /healthz: healthy when the mirror is complete and a poll caught up with the event stream
// within three poll intervals; else the reason.
struct Health {
    bool healthy = false;
    std::string reason;
};

// How an operator's request ended: the report of its syncs, or what failed them.
struct OperatorOutcome {
    sync::FullSyncReport report;
    std::exception_ptr error;
};

// Pure: the delay before the next full resync, `interval` +- `jitter` (a fraction), with
// `unit_random` in [0, 1).
std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double unit_random);

class Scheduler {
public:
    Scheduler(boost::asio::any_io_executor ex, sync::SyncServices services,
              store::EventWriter& events, store::StatusWriter& status, SchedulerOptions options,
              SchedulerObserver& observer);

    // Runs until cancelled (then throws operation_aborted). Transient failures are logged and
    // retried with backoff; it never returns on its own.
    boost::asio::awaitable<void> run();

    // SIGHUP: a full resync of every directory now, unless one is running (then logged, ignored).
    void request_full_resync(std::string const& reason);
    // SIGHUP after re-reading the config: takes effect at the next poll and sync.
    void reconfigure(SchedulerOptions options);
    // SIGUSR1: one status line per directory, in the log.
    void log_status();
    // An operator's request (dirsyncd resync / evict / allow-deletions), run by the sync loop
    // between cycles, never beside one: a resync of everything is the next full cycle (one
    // that is running may have listed before the request), the others run on their own.
    // Ends when it has run; queue_operator_request does not wait.
    boost::asio::awaitable<OperatorOutcome> operator_request(sync::OperatorRequest request);
    void queue_operator_request(sync::OperatorRequest request);

    SchedulerStats const& stats() const { return stats_; }
    Health health() const;

private:
    // One pass of a loop, and what it does with the outcome; each returns the delay before the
    // next pass.
    boost::asio::awaitable<std::chrono::milliseconds> poll_once();
    std::chrono::milliseconds poll_succeeded(sync::PollResult const& result);
    std::chrono::milliseconds poll_failed(sync::Failure const& failure);
    struct Waiter { // an operator waiting for its request
        explicit Waiter(boost::asio::any_io_executor ex)
            : done(ex, std::chrono::steady_clock::time_point::max())
        {
        }
        boost::asio::steady_timer done; // cancelled when `outcome` is set
        std::optional<OperatorOutcome> outcome;
    };
    struct QueuedRequest {
        sync::OperatorRequest request;
        std::shared_ptr<Waiter> waiter; // none: --no-wait
    };
    void enqueue(sync::OperatorRequest request, std::shared_ptr<Waiter> waiter);
    static void finish(std::shared_ptr<Waiter> const& waiter, OperatorOutcome outcome);
    boost::asio::awaitable<void> run_operator_request(QueuedRequest queued);

    struct SyncCycle {
        bool full = false; // every directory, or just `targeted`
        std::vector<std::string> targeted;
        std::int64_t started_micros = 0;
        std::vector<std::shared_ptr<Waiter>> waiters; // operators who asked for this full sync
    };
    boost::asio::awaitable<void> sync_once(SyncCycle cycle);
    void sync_succeeded(SyncCycle const& cycle);
    std::chrono::milliseconds sync_failed(SyncCycle const& cycle,
                                          sync::FullSyncReport const& report,
                                          std::optional<sync::Failure> const& failure);

    boost::asio::awaitable<void> event_loop();
    boost::asio::awaitable<void> sync_loop();
    boost::asio::awaitable<void> housekeeping_loop();
    boost::asio::awaitable<void> sleep(boost::asio::steady_timer& timer,
                                       std::chrono::milliseconds delay);
    std::chrono::milliseconds failure_delay(int failures);
    void publish_status();
    void schedule_next_full(); // the interval from now, with jitter
    // At start with a complete mirror: the next full resync from sync_state, the last one for
    // the status line, and a full sync at once when one was interrupted.
    void resume_schedule();
    // mirror_status: the event stream's state, written only when it changes (or, for
    // caught_up_at, once per status_heartbeat); a database error here is logged, not fatal.
    void record_caught_up(bool changed);
    void record_stream_error(std::string const& message);
    void restart_stream_after(std::string const& why);

    boost::asio::any_io_executor ex_;
    sync::SyncServices svc_;
    store::EventWriter& events_;
    store::StatusWriter& status_;
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
    std::deque<QueuedRequest> operator_queue_;    // an operator's requests of some directories
    std::vector<std::shared_ptr<Waiter>> full_waiters_; // ... and of all: the next full cycle
    std::chrono::steady_clock::time_point next_full_{};
    int poll_failures_ = 0, sync_failures_ = 0;

    // for the status line: each loop keeps its own last error, cleared by its own success
    SchedulerStats stats_;
    std::optional<std::chrono::steady_clock::time_point> caught_up_written_, caught_up_;
    std::optional<std::string> stream_error_written_;
    std::optional<std::string> last_poll_;
    std::optional<std::string> last_full_;
    std::optional<std::string> last_poll_error_;
    std::optional<std::string> last_sync_error_;
};

} // namespace dirsync::sched
