#include "api/rate_limiter.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace dirsync::api {

TokenBucket::TokenBucket(double rate_per_second, double burst)
    : rate_(rate_per_second)
    , burst_(std::max(1.0, burst))
    , tokens_(std::max(1.0, burst))
{
}

TokenBucket::Clock::duration TokenBucket::reserve(Clock::time_point now)
{
    if (started_ && now > last_) {
        std::chrono::duration<double> const elapsed = now - last_;
        tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    }
    if (!started_ || now > last_)
        last_ = now;
    started_ = true;
    tokens_ -= 1.0;
    if (tokens_ >= 0.0)
        return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(-tokens_ / rate_));
}

RateLimiter::RateLimiter(boost::asio::any_io_executor ex, RateLimits limits)
    : ex_(std::move(ex))
    , limits_(limits)
    , global_(limits.global_per_second, limits.global_burst)
{
}

boost::asio::awaitable<void> RateLimiter::wait(TokenBucket& bucket)
{
    auto const delay = bucket.reserve(TokenBucket::Clock::now());
    if (delay > TokenBucket::Clock::duration::zero()) {
        boost::asio::steady_timer timer(ex_, delay);
        co_await timer.async_wait(boost::asio::use_awaitable);
    }
}

boost::asio::awaitable<void> RateLimiter::acquire(std::string directory_id)
{
    if (!directory_id.empty()) {
        auto it = per_directory_.find(directory_id);
        if (it == per_directory_.end())
            it = per_directory_
                     .emplace(directory_id, TokenBucket(limits_.directory_users_per_second,
                                                        limits_.directory_users_burst))
                     .first;
        co_await wait(it->second);
    }
    co_await wait(global_);
}

} // namespace dirsync::api
