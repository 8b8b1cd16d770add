#include "api/retry_policy.hpp"

#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::api;
using std::chrono::milliseconds;

TEST(RetryPolicy, RetriesOnlyTransientStatuses)
{
    for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u})
        EXPECT_TRUE(is_retryable_status(s)) << s;
    for (unsigned s : {200u, 400u, 401u, 403u, 404u, 422u, 501u})
        EXPECT_FALSE(is_retryable_status(s)) << s;
}

TEST(RetryPolicy, BackoffDoublesFromHalfASecondAndIsCapped)
{
    RetryPolicy p;
    // unit_random 0.5 -> jitter factor 1.0
    EXPECT_EQ(backoff_delay(p, 1, 0.5), milliseconds(500));
    EXPECT_EQ(backoff_delay(p, 2, 0.5), milliseconds(1000));
    EXPECT_EQ(backoff_delay(p, 3, 0.5), milliseconds(2000));
    EXPECT_EQ(backoff_delay(p, 10, 0.5), milliseconds(30000));
    EXPECT_EQ(backoff_delay(p, 1000, 0.5), milliseconds(30000));
}

TEST(RetryPolicy, JitterIsPlusMinusFiftyPercent)
{
    RetryPolicy p;
    EXPECT_EQ(backoff_delay(p, 2, 0.0), milliseconds(500));
    EXPECT_EQ(backoff_delay(p, 2, 0.999), milliseconds(1499));
}

TEST(RetryPolicy, RetryAfterSeconds)
{
    RetryPolicy p;
    EXPECT_EQ(retry_after_delay(p, "1", 0), milliseconds(1000));
    EXPECT_EQ(retry_after_delay(p, " 7 ", 0), milliseconds(7000));
    EXPECT_EQ(retry_after_delay(p, "0", 0), milliseconds(0));
    EXPECT_EQ(retry_after_delay(p, "3600", 0), milliseconds(60000)); // capped
}

TEST(RetryPolicy, RetryAfterHttpDate)
{
    RetryPolicy p;
    std::int64_t const now = 1777713327LL * 1000000 - 2500000; // 2.5 s before the date
    EXPECT_EQ(retry_after_delay(p, "Sat, 02 May 2026 09:15:27 GMT", now), milliseconds(2500));
    // a date in the past: retry now
    EXPECT_EQ(retry_after_delay(p, "Sat, 02 May 2026 09:15:27 GMT", now + 10000000),
              milliseconds(0));
}

TEST(RetryPolicy, UnreadableRetryAfterFallsBackToBackoff)
{
    RetryPolicy p;
    EXPECT_FALSE(retry_after_delay(p, "", 0));
    EXPECT_FALSE(retry_after_delay(p, "soon", 0));
    EXPECT_FALSE(retry_after_delay(p, "-5", 0));
}
