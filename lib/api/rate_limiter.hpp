// Client-side pacing under WorkOS's published limits (https://workos.com/docs/reference/rate-
// limits): a sliding window per directory for GET /directory_users and one for every request.
#pragma once

#include "model/api_options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace dirsync::api {

// At most `capacity` requests in any `window`. Each request holds one of `capacity` slots from
// the moment it is sent until `window` after its answer came back: the server, which sees the
// request at some instant between the two, then never sees more than `capacity` in a window,
// whatever the latency, and no margin is taken off the rate. Pure: the caller passes the time.
class SlidingWindow {
public:
    using Clock = std::chrono::steady_clock;

    // `rate` requests per second, as ceil(rate) per ceil(rate)/rate seconds.
    explicit SlidingWindow(double rate);

    // When a slot is free: at once (`now` or earlier), at a later time, or nullopt while every
    // slot is held by a request still in flight.
    std::optional<Clock::time_point> next_free() const;
    void take();                         // needs next_free() <= now
    void release(Clock::time_point now); // a request holding a slot was answered

    std::size_t capacity() const { return capacity_; }
    Clock::duration window() const { return window_; }

private:
    std::size_t capacity_;
    Clock::duration window_;
    std::size_t unused_;                    // slots no request has held yet
    std::deque<Clock::time_point> free_at_; // released slots, in the order they free
};

class RateLimiter {
public:
    RateLimiter(boost::asio::any_io_executor ex, RateLimits limits);

    // The slots one request holds; given back (the answer came) when it is destroyed.
    class Permit {
    public:
        Permit() = default;
        Permit(Permit&& other) noexcept;
        Permit& operator=(Permit&&) = delete;
        ~Permit();

    private:
        friend class RateLimiter;
        RateLimiter* limiter_ = nullptr;
        SlidingWindow* directory_ = nullptr;
    };

    // Waits for a slot of the global window and, when `directory_id` is not empty, of that
    // directory's /directory_users window (that one first: a request waiting for its directory
    // holds no global slot). A request with a directory slot goes before those without in the
    // global window: its directory's pace is the scarce one (4/s against 100/s), and a global
    // slot it waits for would leave its directory slot idle; requests on the global budget only
    // take the slots it leaves.
    boost::asio::awaitable<Permit> acquire(std::string directory_id);

    RateLimits const& limits() const { return limits_; }

private:
    enum class Priority { normal, first };
    boost::asio::awaitable<void> wait_for(SlidingWindow& window, Priority priority);
    void released();

    boost::asio::any_io_executor ex_;
    RateLimits limits_;
    SlidingWindow global_;
    std::map<std::string, std::unique_ptr<SlidingWindow>, std::less<>> per_directory_;
    std::list<boost::asio::steady_timer*> waiters_; // woken when a slot is given back
    int first_waiting_ = 0; // Priority::first requests waiting for the global window
};

} // namespace dirsync::api
