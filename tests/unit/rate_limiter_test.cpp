#include "api/rate_limiter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

using dirsync::api::SlidingWindow;
using Clock = SlidingWindow::Clock;
using namespace std::chrono_literals;

TEST(SlidingWindow, TheFullRateAtOnceThenASlotAWindowAfterEachAnswer)
{
    SlidingWindow w(4.0);
    EXPECT_EQ(w.capacity(), 4u);
    EXPECT_EQ(w.window(), 1s);
    Clock::time_point const t0 = Clock::now();
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(w.next_free());
        EXPECT_LE(*w.next_free(), t0) << "four at once: a sliding window allows it";
        w.take();
    }
    EXPECT_FALSE(w.next_free()) << "all four in flight";
    w.release(t0 + 300ms); // the first answer: its slot is free a window later
    w.release(t0 + 400ms);
    EXPECT_EQ(w.next_free(), t0 + 1300ms);
    w.take();
    EXPECT_EQ(w.next_free(), t0 + 1400ms);
}

TEST(SlidingWindow, AFractionalRateIsItsCeilingOverALongerWindow)
{
    SlidingWindow w(3.5);
    EXPECT_EQ(w.capacity(), 4u);
    EXPECT_NEAR(std::chrono::duration<double>(w.window()).count(), 4 / 3.5, 1e-9);
    SlidingWindow slow(0.5);
    EXPECT_EQ(slow.capacity(), 1u);
    EXPECT_EQ(slow.window(), 2s);
}

TEST(SlidingWindow, NoWindowEverSeesMoreThanTheRateWhateverTheLatency)
{
    // Requests sent as soon as a slot frees, answered after a latency that varies a lot: the
    // server sees each one at some instant between sending and answer. Count, for each arrival,
    // the arrivals in the second before it.
    SlidingWindow w(4.0);
    Clock::time_point now{};
    std::vector<std::pair<Clock::time_point, Clock::time_point>> in_flight; // (sent, answered)
    std::vector<Clock::time_point> arrivals;
    std::uint64_t seed = 7;
    for (int sent = 0; sent < 400;) {
        // answer whatever is due, in answer order
        std::sort(in_flight.begin(), in_flight.end(),
                  [](auto const& a, auto const& b) { return a.second < b.second; });
        auto const free = w.next_free();
        if (free && *free <= now) {
            w.take();
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            auto const latency = std::chrono::milliseconds(5 + (seed >> 33) % 400);
            auto const arrival = now + latency * static_cast<int>((seed >> 20) % 100) / 100;
            in_flight.push_back({now, now + latency});
            arrivals.push_back(arrival);
            ++sent;
            continue;
        }
        // the next moment something happens: a slot frees, or an answer comes
        auto next = free ? *free : Clock::time_point::max();
        if (!in_flight.empty())
            next = std::min(next, in_flight.front().second);
        ASSERT_NE(next, Clock::time_point::max());
        now = next;
        while (!in_flight.empty() && in_flight.front().second <= now) {
            w.release(in_flight.front().second);
            in_flight.erase(in_flight.begin());
        }
    }
    std::sort(arrivals.begin(), arrivals.end());
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
        auto const first =
            std::lower_bound(arrivals.begin(), arrivals.end(), arrivals[i] - 1s + 1ns);
        EXPECT_LE(arrivals.begin() + static_cast<std::ptrdiff_t>(i) + 1 - first, 4)
            << "more than 4 arrivals in the second before arrival " << i;
    }
    // and the pace is the rate, less only the latency each slot waits out
    EXPECT_GT(400.0 / std::chrono::duration<double>(now.time_since_epoch()).count(), 2.5);
}

TEST(RateLimiter, ARequestWithADirectorySlotGoesFirstInTheGlobalWindow)
{
    // One global slot, held. A global-only request waits for it, then a /directory_users request
    // that got its directory slot: when the slot frees, the directory request takes it (its
    // directory's pace is the scarce one); the global-only request takes the next.
    namespace asio = boost::asio;
    asio::io_context ioc;
    dirsync::api::RateLimiter limiter(ioc.get_executor(), {1.0, 10.0});
    std::vector<std::string> order;
    std::optional<dirsync::api::RateLimiter::Permit> holder;
    auto hold = [&]() -> asio::awaitable<void> { holder.emplace(co_await limiter.acquire("")); };
    auto take = [&](std::string dir, std::string name) -> asio::awaitable<void> {
        auto permit = co_await limiter.acquire(dir);
        order.push_back(name);
    };
    asio::co_spawn(ioc, hold(), asio::detached);
    ioc.poll();
    ASSERT_TRUE(holder);
    asio::co_spawn(ioc, take("", "global only"), asio::detached);
    ioc.poll();
    asio::co_spawn(ioc, take("directory_1", "directory"), asio::detached);
    ioc.poll();
    EXPECT_TRUE(order.empty());
    holder.reset(); // answered: its slot frees a window later
    ioc.restart();
    ioc.run_for(5s);
    EXPECT_EQ(order, (std::vector<std::string>{"directory", "global only"}));
}
