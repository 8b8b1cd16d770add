#include "sched/scheduler.hpp"

#include "api/retry_policy.hpp"
#include "model/timestamp.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace dirsync::sched {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using sync::FailureKind;

std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double unit_random)
{
    double const factor = 1.0 + jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(interval.count()) * factor));
}

Scheduler::Scheduler(asio::any_io_executor ex, sync::SyncServices services,
                     store::EventWriter& events, store::StatusWriter& status,
                     SchedulerOptions options, SchedulerObserver& observer)
    : ex_(ex)
    , svc_(std::move(services))
    , events_(events)
    , status_(status)
    , options_(std::move(options))
    , observer_(observer)
    , sync_wake_(ex)
    , poll_wake_(ex)
{
}

asio::awaitable<void> Scheduler::sleep(asio::steady_timer& timer, std::chrono::milliseconds delay)
{
    // Cancelling the timer wakes us early; cancelling the coroutine ends the daemon: tell which.
    timer.expires_after(delay);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    auto const cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
        throw boost::system::system_error(asio::error::operation_aborted);
}

std::chrono::milliseconds Scheduler::failure_delay(int failures)
{
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    return api::backoff_delay(options_.failure_backoff, failures, unit(rng_));
}

void Scheduler::request_full_resync(std::string const& reason)
{
    if (full_running_) {
        svc_.log.info("{}: a full resync is already running; not starting another", reason);
        return;
    }
    svc_.log.info("{}: full resync of every directory requested", reason);
    full_requested_ = true;
    sync_wake_.cancel();
}

void Scheduler::reconfigure(SchedulerOptions options)
{
    options_ = std::move(options);
    schedule_next_full();
    poll_wake_.cancel();
}

void Scheduler::schedule_next_full()
{
    next_full_ = std::chrono::steady_clock::now() +
                 jittered(options_.full_resync_interval, options_.full_resync_jitter,
                          std::uniform_real_distribution<double>(0, 1)(rng_));
}

void Scheduler::resume_schedule()
{
    // The schedule follows what the mirror records, not the process start: a daemon restarted
    // every day still repairs drift, and a full sync cut short by a stop or a crash goes on.
    std::optional<std::int64_t> oldest;
    std::optional<std::string> oldest_text;
    bool interrupted = false;
    for (auto const& r : svc_.store.directory_status()) {
        interrupted = interrupted || r.full_sync_in_progress;
        auto const& finished = r.last_full_sync_finished_at;
        if (!finished)
            continue;
        if (!last_full_ || *finished > *last_full_)
            last_full_ = finished;
        auto const at = parse_timestamp(*finished);
        if (at && (!oldest || *at < *oldest)) {
            oldest = at;
            oldest_text = finished;
        }
    }
    schedule_next_full();
    if (oldest) {
        auto const since = std::chrono::microseconds(now_micros() - *oldest);
        next_full_ -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(since);
        auto const due = std::chrono::duration_cast<std::chrono::seconds>(
            next_full_ - std::chrono::steady_clock::now());
        svc_.log.info("next full resync {} (the least recent full sync finished at {})",
                      due.count() > 0 ? fmt::format("in {} s", due.count()) : "now", *oldest_text);
    }
    if (interrupted) {
        svc_.log.info("a full sync was interrupted by the last stop: resuming it now");
        full_requested_ = true;
    }
}

void Scheduler::publish_status()
{
    auto error = [](char const* what, std::optional<std::string> const& e) {
        return e ? fmt::format("; last {} error: {}", what, *e) : std::string();
    };
    observer_.status(fmt::format(
        "{}; events: {} applied{}, last poll {}; full sync: {}{}{}",
        mirror_ready_ ? "mirror ready" : "first full sync in progress", stats_.events_applied,
        stats_.events_quarantined ? fmt::format(", {} quarantined", stats_.events_quarantined) : "",
        last_poll_.value_or("never"),
        full_running_ ? "running" : fmt::format("last finished {}", last_full_.value_or("never")),
        error("poll", last_poll_error_), error("sync", last_sync_error_)));
}

void Scheduler::log_status()
{
    publish_status();
    auto const rows = svc_.store.directory_status();
    svc_.log.info("status: {} directories; events applied {}, quarantined {} (in all {}); last "
                  "poll {}; full sync {}",
                  rows.size(), stats_.events_applied, stats_.events_quarantined,
                  events_.quarantined_count(), last_poll_.value_or("never"),
                  full_running_ ? "running" : "idle");
    for (auto const& r : rows)
        svc_.log.info(
            "status: directory {} ({}): {} users, {} groups, {} memberships; last full "
            "sync {} ({}){}{}",
            r.id, r.name.value_or("-"), r.users, r.groups, r.memberships,
            r.last_full_sync_finished_at.value_or("never"), r.membership_strategy.value_or("-"),
            r.full_sync_in_progress ? "; a full sync is in progress or was interrupted" : "",
            r.last_error ? fmt::format("; last error at {}: {}", r.last_error_at.value_or("?"),
                                       *r.last_error)
                         : "");
}

asio::awaitable<void> Scheduler::run()
{
    auto position = events_.load_position();
    // A stream position exists only after a complete first sync: the mirror on disk is whole.
    stream_ready_ = position.has_value();
    mirror_ready_ = stream_ready_;
    if (mirror_ready_) {
        svc_.log.info("a complete mirror exists; following events from {}",
                      position->cursor ? "cursor " + *position->cursor
                                       : "range start " + position->range_start.value_or("?"));
        observer_.mirror_ready();
        resume_schedule();
    } else {
        svc_.log.info("no event stream yet: starting with a full sync of every directory");
        full_requested_ = true;
        restart_stream_ = true;
    }
    publish_status();

    auto [order, e1, e2, e3] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex_, event_loop(), asio::deferred),
            asio::co_spawn(ex_, sync_loop(), asio::deferred),
            asio::co_spawn(ex_, housekeeping_loop(), asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)order;
    for (auto const& e : {e1, e2, e3})
        if (e && !sync::is_cancellation(e))
            std::rethrow_exception(e);
    throw boost::system::system_error(asio::error::operation_aborted);
}

asio::awaitable<void> Scheduler::event_loop()
{
    for (;;) {
        auto delay = options_.poll_interval;
        if (stream_ready_ && !restart_stream_) {
            auto const started = std::chrono::steady_clock::now();
            delay = co_await poll_once();
            // Start to start: a change waits half an interval on average, not half an interval
            // plus the poll's own time.
            if (delay == options_.poll_interval)
                delay = std::max(std::chrono::milliseconds(1),
                                 delay - std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started));
        } else // nothing to poll before the full sync has set the stream's start; the loop still
               // turns (a sync waiting out a long backoff must not look like a hang to the
               // watchdog)
            observer_.alive();
        co_await sleep(poll_wake_, delay);
    }
}

asio::awaitable<std::chrono::milliseconds> Scheduler::poll_once()
{
    std::exception_ptr error;
    sync::PollResult result;
    try {
        result = co_await sync::poll_events(svc_.api, events_, svc_.log, options_.events,
                                            options_.sync.scope);
    } catch (...) {
        error = std::current_exception();
    }
    if (!error)
        co_return poll_succeeded(result);
    auto const failure = sync::classify_failure(error);
    if (failure.kind == FailureKind::cancelled)
        std::rethrow_exception(error);
    co_return poll_failed(failure);
}

Health Scheduler::health() const
{
    if (!mirror_ready_)
        return {false, "the first full sync is in progress"};
    if (restart_stream_)
        return {false, last_poll_error_ ? "the event stream is restarting: " + *last_poll_error_
                                        : "the event stream is restarting after a full sync"};
    auto const limit = 3 * options_.poll_interval;
    if (!caught_up_)
        return {false, "no poll has caught up with the event stream yet"};
    auto const age = std::chrono::steady_clock::now() - *caught_up_;
    if (age > limit)
        return {false, fmt::format("no poll caught up with the event stream for {} s (limit 3 "
                                   "poll intervals, {} s){}",
                                   std::chrono::duration_cast<std::chrono::seconds>(age).count(),
                                   std::chrono::duration_cast<std::chrono::seconds>(limit).count(),
                                   last_poll_error_ ? "; last error: " + *last_poll_error_ : "")};
    return {true, "ok"};
}

void Scheduler::record_caught_up(bool changed)
{
    auto const now = std::chrono::steady_clock::now();
    caught_up_ = now;
    if (!changed && caught_up_written_ && now - *caught_up_written_ < options_.status_heartbeat)
        return; // not a heartbeat on disk: apps that watch data_version would wake for nothing
    try {
        status_.caught_up(now_text());
        if (stream_error_written_)
            status_.stream_recovered();
        stream_error_written_.reset();
        caught_up_written_ = now;
    } catch (std::exception const& e) { // SQLite::Exception, pg::Error
        svc_.log.error("mirror_status: {}", store::database_error_text(e));
    }
}

void Scheduler::record_stream_error(std::string const& message)
{
    if (stream_error_written_ == message)
        return;
    try {
        status_.stream_failed(message, now_text());
        stream_error_written_ = message;
    } catch (std::exception const& e) { // SQLite::Exception, pg::Error
        svc_.log.error("mirror_status: {}", store::database_error_text(e));
    }
}

void Scheduler::restart_stream_after(std::string const& why)
{
    svc_.log.warn("events: {}; running a full resync and restarting the stream", why);
    restart_stream_ = true;
    full_requested_ = true;
    sync_wake_.cancel();
}

std::chrono::milliseconds Scheduler::poll_succeeded(sync::PollResult const& result)
{
    if (result.out_of_order) {
        // Never a silent park: counted, logged, shown in mirror_status, status and /healthz,
        // and repaired by a full resync that restarts the stream.
        ++stats_.events_out_of_order;
        svc_.log.error("events: {}", *result.out_of_order);
        last_poll_error_ = *result.out_of_order;
        record_stream_error(*result.out_of_order);
        restart_stream_after("the event stream is out of order");
        observer_.alive();
        publish_status();
        return options_.poll_interval;
    }
    last_poll_ = now_text();
    poll_failures_ = 0;
    last_poll_error_.reset();
    auto const& t = result.totals;
    if (result.caught_up)
        record_caught_up(t.applied + t.unchanged + t.skipped + t.quarantined > 0);
    stats_.events_applied += static_cast<std::uint64_t>(t.applied);
    stats_.events_quarantined += static_cast<std::uint64_t>(t.quarantined);
    if (t.applied + t.unchanged + t.skipped + t.quarantined > 0)
        svc_.log.info("events: {} applied, {} unchanged, {} skipped, {} quarantined; cursor {}",
                      t.applied, t.unchanged, t.skipped, t.quarantined, t.cursor.value_or("-"));
    if (!t.directories_to_sync.empty()) {
        directories_requested_.insert(t.directories_to_sync.begin(), t.directories_to_sync.end());
        sync_wake_.cancel();
    }
    if (result.cursor_expired)
        restart_stream_after(result.expiry_reason);
    observer_.alive();
    publish_status();
    return options_.poll_interval;
}

std::chrono::milliseconds Scheduler::poll_failed(sync::Failure const& failure)
{
    ++poll_failures_;
    bool const auth = failure.kind == FailureKind::auth;
    auto const delay = auth ? std::chrono::milliseconds(options_.auth_retry_interval)
                            : std::max(options_.poll_interval, failure_delay(poll_failures_));
    if (auth)
        svc_.log.critical("events: the WorkOS API rejected the API key ({}); the mirror keeps its "
                          "last state; retrying in {} s (rotate the key and send SIGHUP to pick "
                          "it up sooner)",
                          failure.message,
                          std::chrono::duration_cast<std::chrono::seconds>(delay).count());
    else
        svc_.log.error("events: poll failed ({}); retrying in {} ms", failure.message,
                       delay.count());
    last_poll_error_ = failure.message;
    record_stream_error(failure.message);
    observer_.alive(); // handled: the loop itself is fine
    publish_status();
    return delay;
}

asio::awaitable<void> Scheduler::housekeeping_loop()
{
    for (;;) {
        try {
            auto const cutoff = format_timestamp(
                now_micros() -
                std::chrono::duration_cast<std::chrono::microseconds>(options_.changes_retention)
                    .count());
            int total = 0;
            // Small batches, yielding between them, so the event loop is never held up.
            for (int removed = 1; removed > 0;) {
                removed = events_.prune(cutoff, 500);
                total += removed;
                co_await asio::post(ex_, asio::use_awaitable);
            }
            if (total > 0)
                svc_.log.info("housekeeping: pruned {} changes and tombstones older than {}", total,
                              cutoff);
        } catch (boost::system::system_error const&) {
            throw;                          // cancelled: the daemon stops
        } catch (std::exception const& e) { // SQLite::Exception, pg::Error
            svc_.log.error("housekeeping: {}", store::database_error_text(e));
        }
        asio::steady_timer timer(ex_);
        co_await sleep(timer, options_.housekeeping_interval);
    }
}

} // namespace dirsync::sched
