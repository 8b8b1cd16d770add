// Scheduler: the full-sync loop. A cycle syncs every directory (first start, interval, SIGHUP,
// an expired cursor) or just those events announced; a failed cycle is retried after a backoff.
#include "model/timestamp.hpp"
#include "sched/scheduler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace dirsync::sched {
namespace asio = boost::asio;
using sync::FailureKind;

asio::awaitable<void> Scheduler::sync_loop()
{
    for (;;) {
        auto const now = std::chrono::steady_clock::now();
        if (mirror_ready_ && !full_requested_ && now >= next_full_) {
            svc_.log.info("full resync interval reached");
            full_requested_ = true;
        }
        if (!operator_queue_.empty()) {
            auto queued = std::move(operator_queue_.front());
            operator_queue_.pop_front();
            co_await run_operator_request(std::move(queued));
            continue;
        }
        if (full_requested_ || !directories_requested_.empty()) {
            SyncCycle cycle{full_requested_,
                            {directories_requested_.begin(), directories_requested_.end()},
                            now_micros(),
                            {}};
            if (full_requested_)
                cycle.waiters = std::exchange(full_waiters_, {});
            full_requested_ = false;
            directories_requested_.clear();
            co_await sync_once(std::move(cycle));
            continue;
        }
        auto const until_next =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_full_ - now);
        co_await sleep(sync_wake_, std::max(until_next, std::chrono::milliseconds(1)));
    }
}

asio::awaitable<void> Scheduler::sync_once(SyncCycle cycle)
{
    full_running_ = cycle.full;
    publish_status();
    auto services = svc_;
    if (!mirror_ready_)
        services.on_progress = [this] { observer_.first_sync_progress(); };
    std::exception_ptr error;
    sync::FullSyncReport report;
    try {
        if (cycle.full)
            report = co_await sync::run_full_sync(services, options_.sync);
        else
            report = co_await sync::run_directory_syncs(services, options_.sync, cycle.targeted);
    } catch (...) {
        error = std::current_exception();
    }
    full_running_ = false;
    std::optional<sync::Failure> failure;
    if (error) {
        failure = sync::classify_failure(error);
        if (failure->kind == FailureKind::cancelled)
            std::rethrow_exception(error);
    }
    for (auto const& w : cycle.waiters)
        finish(w, {report, error});
    if (!failure && report.failures.empty()) {
        if (cycle.full)
            observer_.full_sync_finished(
                std::chrono::microseconds(now_micros() - cycle.started_micros));
        sync_succeeded(cycle);
        publish_status();
        co_return;
    }
    auto const delay = sync_failed(cycle, report, failure);
    publish_status();
    co_await sleep(sync_wake_, delay);
}

asio::awaitable<OperatorOutcome> Scheduler::operator_request(sync::OperatorRequest request)
{
    auto waiter = std::make_shared<Waiter>(ex_);
    enqueue(std::move(request), waiter);
    while (!waiter->outcome) {
        co_await waiter->done.async_wait(asio::as_tuple(asio::use_awaitable));
        auto const cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
    }
    co_return std::move(*waiter->outcome);
}

void Scheduler::queue_operator_request(sync::OperatorRequest request)
{
    enqueue(std::move(request), nullptr);
}

void Scheduler::enqueue(sync::OperatorRequest request, std::shared_ptr<Waiter> waiter)
{
    auto const what = sync::operator_action_name(request.action);
    if (request.action == sync::OperatorAction::resync && request.directories.empty()) {
        svc_.log.info("operator: resync of every directory requested{}",
                      full_running_ ? "; it starts when the running full sync ends" : "");
        full_requested_ = true;
        if (waiter)
            full_waiters_.push_back(std::move(waiter));
    } else {
        svc_.log.info("operator: {} {} requested", what, fmt::join(request.directories, " "));
        operator_queue_.push_back({std::move(request), std::move(waiter)});
    }
    sync_wake_.cancel();
}

void Scheduler::finish(std::shared_ptr<Waiter> const& waiter, OperatorOutcome outcome)
{
    if (!waiter)
        return;
    waiter->outcome = std::move(outcome);
    waiter->done.cancel();
}

asio::awaitable<void> Scheduler::run_operator_request(QueuedRequest queued)
{
    OperatorOutcome outcome;
    try {
        outcome.report =
            co_await sync::run_operator_request(svc_, options_.sync, std::move(queued.request));
    } catch (...) {
        outcome.error = std::current_exception();
        if (sync::is_cancellation(outcome.error))
            throw;
    }
    auto const failed = outcome.error || !outcome.report.failures.empty();
    if (failed)
        svc_.log.error("operator request failed: {}",
                       outcome.error ? sync::classify_failure(outcome.error).message
                                     : outcome.report.failures.front().message);
    finish(queued.waiter, std::move(outcome));
    publish_status();
}

void Scheduler::sync_succeeded(SyncCycle const& cycle)
{
    sync_failures_ = 0;
    last_sync_error_.reset();
    if (!cycle.full)
        return;
    last_full_ = now_text();
    if (restart_stream_) {
        // The stream starts a margin before this sync began: newer-wins makes the overlap
        // harmless, and nothing between is missed.
        auto const start =
            cycle.started_micros -
            std::chrono::duration_cast<std::chrono::microseconds>(options_.stream_start_margin)
                .count();
        events_.restart_stream(format_timestamp(start), now_text());
        restart_stream_ = false;
        stream_ready_ = true;
        svc_.log.info("event stream starts at {}", format_timestamp(start));
        poll_wake_.cancel();
    }
    if (!mirror_ready_) {
        mirror_ready_ = true;
        observer_.mirror_ready();
    }
    schedule_next_full();
}

std::chrono::milliseconds Scheduler::sync_failed(SyncCycle const& cycle,
                                                 sync::FullSyncReport const& report,
                                                 std::optional<sync::Failure> const& failure)
{
    ++sync_failures_;
    auto const& first =
        failure ? *failure
                : sync::Failure{report.failures.front().kind, report.failures.front().message};
    last_sync_error_ = first.message;
    // Try again after a backoff: the whole sync if it was one, else the directories.
    if (cycle.full)
        full_requested_ = true;
    else
        for (auto const& f : report.failures)
            directories_requested_.insert(f.directory_id);
    if (failure)
        directories_requested_.insert(cycle.targeted.begin(), cycle.targeted.end());
    bool const auth = first.kind == FailureKind::auth;
    auto const delay = auth ? std::chrono::milliseconds(options_.auth_retry_interval)
                            : failure_delay(sync_failures_);
    if (auth)
        svc_.log.critical("{}; the mirror keeps its last state; retrying in {} s", first.message,
                          delay.count() / 1000);
    else
        svc_.log.error("full sync failed ({}); retrying in {} s", first.message,
                       delay.count() / 1000);
    return delay;
}

} // namespace dirsync::sched
