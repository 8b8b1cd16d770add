#include "api/rate_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cmath>

namespace dirsync::api {
namespace asio = boost::asio;
using Clock = SlidingWindow::Clock;

SlidingWindow::SlidingWindow(double rate)
{
    double const r = std::max(rate, 1e-6);
    capacity_ = static_cast<std::size_t>(std::max(1.0, std::ceil(r)));
    window_ = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(capacity_) / r));
    unused_ = capacity_;
}

std::optional<Clock::time_point> SlidingWindow::next_free() const
{
    if (unused_ > 0)
        return Clock::time_point::min();
    if (free_at_.empty())
        return std::nullopt;
    return free_at_.front(); // released in time order, each freeing one window later
}

void SlidingWindow::take()
{
    if (unused_ > 0)
        --unused_;
    else
        free_at_.pop_front();
}

void SlidingWindow::release(Clock::time_point now)
{
    free_at_.push_back(now + window_);
}

RateLimiter::RateLimiter(asio::any_io_executor ex, RateLimits limits)
    : ex_(std::move(ex))
    , limits_(limits)
    , global_(limits.global_per_second)
{
}

RateLimiter::Permit::Permit(Permit&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr))
    , directory_(other.directory_)
{
}

RateLimiter::Permit::~Permit()
{
    if (limiter_ == nullptr)
        return;
    auto const now = Clock::now();
    limiter_->global_.release(now);
    if (directory_)
        directory_->release(now);
    limiter_->released();
}

void RateLimiter::released()
{
    for (auto* w : waiters_)
        w->cancel();
}

asio::awaitable<void> RateLimiter::wait_for(SlidingWindow& window, Priority priority)
{
    bool const first = priority == Priority::first;
    if (first)
        ++first_waiting_;
    struct Done { // counts this request out of the waiting ones, however it leaves
        int* count;
        ~Done()
        {
            if (count)
                --*count;
        }
    } done{first ? &first_waiting_ : nullptr};
    for (;;) {
        auto const free = window.next_free();
        auto const now = Clock::now();
        if (free && *free <= now && (first || first_waiting_ == 0)) {
            window.take();
            co_return;
        }
        // until that slot frees, or until a request gives one back (its window starts then)
        asio::steady_timer timer(ex_, free ? *free : Clock::time_point::max());
        auto const it = waiters_.insert(waiters_.end(), &timer);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        waiters_.erase(it);
        auto const cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
    }
}

asio::awaitable<RateLimiter::Permit> RateLimiter::acquire(std::string directory_id)
{
    Permit permit;
    if (!directory_id.empty()) {
        auto it = per_directory_.find(directory_id);
        if (it == per_directory_.end())
            it = per_directory_
                     .emplace(directory_id,
                              std::make_unique<SlidingWindow>(limits_.directory_users_per_second))
                     .first;
        permit.directory_ = it->second.get();
        co_await wait_for(*permit.directory_, Priority::normal);
    }
    try {
        co_await wait_for(global_, permit.directory_ ? Priority::first : Priority::normal);
    } catch (...) {
        if (permit.directory_) { // give the directory's slot back
            permit.directory_->release(Clock::now());
            released();
        }
        throw;
    }
    permit.limiter_ = this;
    co_return permit;
}

} // namespace dirsync::api
