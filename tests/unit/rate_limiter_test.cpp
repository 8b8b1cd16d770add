#include "api/rate_limiter.hpp"

#include <gtest/gtest.h>

using dirsync::api::TokenBucket;
using Clock = TokenBucket::Clock;
using namespace std::chrono_literals;

TEST(TokenBucket, BurstIsFreeThenPacedAtTheRate)
{
    TokenBucket b(4.0, 2.0);
    Clock::time_point t{};
    EXPECT_EQ(b.reserve(t), Clock::duration::zero());
    EXPECT_EQ(b.reserve(t), Clock::duration::zero());
    // the third call in the same instant waits for one token: 250 ms at 4/s
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.reserve(t)), 250ms);
    // and the fourth queues behind it
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.reserve(t)), 500ms);
}

TEST(TokenBucket, RefillsWithTimeUpToTheBurst)
{
    TokenBucket b(2.0, 1.0);
    Clock::time_point t{};
    EXPECT_EQ(b.reserve(t), Clock::duration::zero());
    EXPECT_EQ(b.reserve(t + 500ms), Clock::duration::zero());
    // a long idle period refills only up to the burst of one
    EXPECT_EQ(b.reserve(t + 10s), Clock::duration::zero());
    EXPECT_GT(b.reserve(t + 10s), Clock::duration::zero());
}

TEST(TokenBucket, SustainedRateNeverExceedsTheLimit)
{
    // 1000 back-to-back callers that each wait their turn: the n-th may start at n/rate.
    TokenBucket b(3.5, 1.0);
    Clock::time_point t{};
    Clock::duration last{};
    for (int i = 0; i < 1000; ++i)
        last = b.reserve(t);
    double const seconds = std::chrono::duration<double>(last).count();
    EXPECT_NEAR(seconds, 999 / 3.5, 1e-6);
}
