// Client-side pacing under WorkOS's published limits: a token bucket per directory for
// /directory_users and a global bucket for every request.
#pragma once

#include "model/api_options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <string>

namespace dirsync::api {

// A token bucket with reservations: each call takes one token now, going into debt when the
// bucket is empty, and returns how long the caller must wait until its token exists. Concurrent
// callers thus queue fairly in the order they reserved. Pure: the caller passes the time.
class TokenBucket {
public:
    using Clock = std::chrono::steady_clock;

    TokenBucket(double rate_per_second, double burst);
    Clock::duration reserve(Clock::time_point now);

private:
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_{};
    bool started_ = false;
};

class RateLimiter {
public:
    RateLimiter(boost::asio::any_io_executor ex, RateLimits limits);

    // Waits for a token of the global bucket and, when `directory_id` is non-empty, of that
    // directory's /directory_users bucket.
    boost::asio::awaitable<void> acquire(std::string directory_id);

    RateLimits const& limits() const { return limits_; }

private:
    boost::asio::awaitable<void> wait(TokenBucket& bucket);

    boost::asio::any_io_executor ex_;
    RateLimits limits_;
    TokenBucket global_;
    std::map<std::string, TokenBucket, std::less<>> per_directory_;
};

} // namespace dirsync::api
