#include "sched/scheduler.hpp"

#include "decode/timestamp.hpp"
#include "store/database.hpp"
#include "sync/clock.hpp"

#include <SQLiteCpp/Exception.h>
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
using sync::now_text;

namespace {

// The text of a failure, and whether it was the API rejecting the key.
std::pair<std::string, bool> describe(std::exception_ptr e)
{
    try {
        std::rethrow_exception(e);
    } catch (api::ApiError const& err) {
        return {err.what(), err.is_auth_failure()};
    } catch (SQLite::Exception const& err) {
        return {fmt::format("database: {}", store::describe_database_error(err)), false};
    } catch (std::exception const& err) {
        return {err.what(), false};
    }
}

bool is_cancellation(std::exception_ptr e)
{
    try {
        std::rethrow_exception(e);
    } catch (boost::system::system_error const& err) {
        return err.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

} // namespace

std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double unit_random)
{
    double const factor = 1.0 + jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(interval.count()) * factor));
}

Scheduler::Scheduler(asio::any_io_executor ex, sync::SyncServices services,
                     store::EventStore& events, SchedulerOptions options,
                     SchedulerObserver& observer)
    : ex_(ex)
    , svc_(std::move(services))
    , events_(events)
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

void Scheduler::publish_status()
{
    auto line = fmt::format(
        "{}; events: {} applied{}, last poll {}; full sync: {}{}",
        mirror_ready_ ? "mirror ready" : "first full sync in progress", events_applied_,
        events_quarantined_ ? fmt::format(", {} quarantined", events_quarantined_) : "",
        last_poll_.value_or("never"),
        full_running_ ? "running" : fmt::format("last finished {}", last_full_.value_or("never")),
        last_error_ ? fmt::format("; last error: {}", *last_error_) : "");
    observer_.status(line);
}

void Scheduler::log_status()
{
    publish_status();
    auto const rows = svc_.store.directory_status();
    svc_.log.info("status: {} directories; events applied {}, quarantined {} (in all {}); last "
                  "poll {}; full sync {}",
                  rows.size(), events_applied_, events_quarantined_, events_.quarantined_count(),
                  last_poll_.value_or("never"), full_running_ ? "running" : "idle");
    for (auto const& r : rows)
        svc_.log.info("status: directory {} ({}): {} users, {} groups, {} memberships; last full "
                      "sync {} ({}){}{}",
                      r.id, r.name.empty() ? "-" : r.name, r.users, r.groups, r.memberships,
                      r.full_sync_finished_at.value_or("never"), r.strategy.value_or("-"),
                      r.staging ? "; a full sync is in progress or was interrupted" : "",
                      r.last_error ? fmt::format("; last error at {}: {}",
                                                 r.last_error_at.value_or("?"), *r.last_error)
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
        schedule_next_full();
    } else {
        svc_.log.info("no event stream yet: starting with a full sync of every directory");
        full_requested_ = true;
        restart_stream_ = true;
    }
    publish_status();

    auto wrap = [](Scheduler* self, int which) -> asio::awaitable<void> {
        if (which == 0)
            co_await self->event_loop();
        else if (which == 1)
            co_await self->sync_loop();
        else
            co_await self->housekeeping_loop();
    };
    auto [order, e1, e2, e3] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex_, wrap(this, 0), asio::deferred),
            asio::co_spawn(ex_, wrap(this, 1), asio::deferred),
            asio::co_spawn(ex_, wrap(this, 2), asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    for (auto const& e : {e1, e2, e3})
        if (e && !is_cancellation(e))
            std::rethrow_exception(e);
    throw boost::system::system_error(asio::error::operation_aborted);
}

asio::awaitable<void> Scheduler::event_loop()
{
    int failures = 0;
    for (;;) {
        std::chrono::milliseconds delay = options_.poll_interval;
        if (!stream_ready_ || restart_stream_) {
            // Nothing to poll before the full sync has set the stream's start; the loop still
            // turns (a sync waiting out a long backoff must not look like a hang to the watchdog).
            observer_.alive();
            co_await sleep(poll_wake_, options_.poll_interval);
            continue;
        }
        std::exception_ptr failure;
        try {
            auto result = co_await sync::poll_events(svc_.api, events_, svc_.log, options_.events,
                                                     options_.sync.scope);
            last_poll_ = now_text();
            failures = 0;
            last_error_.reset();
            auto const& t = result.totals;
            events_applied_ += static_cast<std::uint64_t>(t.applied);
            events_quarantined_ += static_cast<std::uint64_t>(t.quarantined);
            if (t.applied + t.unchanged + t.skipped + t.quarantined > 0)
                svc_.log.info("events: {} applied, {} unchanged, {} skipped, {} quarantined; "
                              "cursor {}",
                              t.applied, t.unchanged, t.skipped, t.quarantined,
                              t.cursor.value_or("-"));
            if (!t.directories_to_sync.empty()) {
                directories_requested_.insert(t.directories_to_sync.begin(),
                                              t.directories_to_sync.end());
                sync_wake_.cancel();
            }
            if (result.cursor_expired) {
                svc_.log.warn("events: {}; running a full resync and restarting the stream",
                              result.expiry_reason);
                restart_stream_ = true;
                full_requested_ = true;
                sync_wake_.cancel();
            }
            observer_.alive();
            publish_status();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            if (is_cancellation(failure))
                std::rethrow_exception(failure);
            auto const [text, auth] = describe(failure);
            ++failures;
            delay = auth ? std::chrono::milliseconds(options_.auth_retry_interval)
                         : std::max(delay, failure_delay(failures));
            if (auth)
                svc_.log.critical("events: the WorkOS API rejected the API key ({}); the mirror "
                                  "keeps its last state; retrying in {} s (rotate the key and "
                                  "send SIGHUP to pick it up sooner)",
                                  text,
                                  std::chrono::duration_cast<std::chrono::seconds>(delay).count());
            else
                svc_.log.error("events: poll failed ({}); retrying in {} ms", text, delay.count());
            last_error_ = text;
            observer_.alive(); // handled: the loop itself is fine
            publish_status();
        }
        co_await sleep(poll_wake_, delay);
    }
}

asio::awaitable<void> Scheduler::sync_loop()
{
    int failures = 0;
    for (;;) {
        auto const now = std::chrono::steady_clock::now();
        if (mirror_ready_ && !full_requested_ && now >= next_full_) {
            svc_.log.info("full resync interval reached");
            full_requested_ = true;
        }
        std::chrono::milliseconds delay =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_full_ - now);
        if (full_requested_ || !directories_requested_.empty()) {
            bool const full = full_requested_;
            std::vector<std::string> targeted(directories_requested_.begin(),
                                              directories_requested_.end());
            full_requested_ = false;
            directories_requested_.clear();
            full_running_ = full;
            publish_status();
            auto const started = now_micros();
            std::exception_ptr failure;
            sync::FullSyncReport report;
            auto services = svc_;
            if (!mirror_ready_)
                services.on_progress = [this] { observer_.first_sync_progress(); };
            try {
                if (full)
                    report = co_await sync::run_full_sync(services, options_.sync);
                else
                    report = co_await sync::run_directory_syncs(services, options_.sync,
                                                                std::move(targeted));
            } catch (...) {
                failure = std::current_exception();
            }
            full_running_ = false;
            if (failure && is_cancellation(failure))
                std::rethrow_exception(failure);
            bool const ok = !failure && report.failures.empty();
            if (ok) {
                failures = 0;
                if (full) {
                    last_full_ = now_text();
                    if (restart_stream_) {
                        // The stream starts a margin before this sync began: newer-wins makes
                        // the overlap harmless, and nothing between is missed.
                        auto const start =
                            started - std::chrono::duration_cast<std::chrono::microseconds>(
                                          options_.stream_start_margin)
                                          .count();
                        events_.restart_stream(decode::format_timestamp(start), now_text());
                        restart_stream_ = false;
                        stream_ready_ = true;
                        svc_.log.info("event stream starts at {}", decode::format_timestamp(start));
                        poll_wake_.cancel();
                    }
                    if (!mirror_ready_) {
                        mirror_ready_ = true;
                        observer_.mirror_ready();
                    }
                    schedule_next_full();
                }
                last_error_.reset();
            } else {
                ++failures;
                auto const [text, auth] = failure ? describe(failure)
                                                  : std::make_pair(report.failures.front().message,
                                                                   report.failures.front().auth);
                last_error_ = text;
                // Try again after a backoff: the whole sync if it was one, else the directories.
                if (full)
                    full_requested_ = true;
                else
                    for (auto const& f : report.failures)
                        directories_requested_.insert(f.directory_id);
                if (failure)
                    for (auto const& id : targeted)
                        directories_requested_.insert(id);
                delay = auth ? std::chrono::milliseconds(options_.auth_retry_interval)
                             : failure_delay(failures);
                (auth ? svc_.log.critical("{}; the mirror keeps its last state; retrying in {} s",
                                          text, delay.count() / 1000)
                      : svc_.log.error("full sync failed ({}); retrying in {} s", text,
                                       delay.count() / 1000));
                publish_status();
                co_await sleep(sync_wake_, delay);
                continue;
            }
            publish_status();
            continue;
        }
        co_await sleep(sync_wake_, std::max(delay, std::chrono::milliseconds(1)));
    }
}

asio::awaitable<void> Scheduler::housekeeping_loop()
{
    for (;;) {
        try {
            auto const cutoff = decode::format_timestamp(
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
        } catch (SQLite::Exception const& e) {
            svc_.log.error("housekeeping: {}", store::describe_database_error(e));
        }
        asio::steady_timer timer(ex_);
        co_await sleep(timer, options_.housekeeping_interval);
    }
}

} // namespace dirsync::sched
