// How the API client paces and retries its requests. WorkOS publishes 6,000 requests per 60 s per
// API key and 4 requests per second per directory on GET /directory_users
// (https://workos.com/docs/reference/rate-limits).
#pragma once

#include <chrono>
#include <cstddef>

namespace dirsync {

// Every list request asks for the largest page the API serves.
inline constexpr std::size_t page_size = 100;

// The limits as sliding windows (api/rate_limiter.hpp): the published rates by default.
struct RateLimits {
    double global_per_second = 100.0;        // 6,000 per 60 s
    double directory_users_per_second = 4.0; // GET /directory_users, per directory
};

// Retries of 408, 429, 5xx and connection errors: exponential backoff with jitter, or the server's
// Retry-After, capped.
struct RetryPolicy {
    int max_attempts = 5;
    std::chrono::milliseconds base_delay{500};
    std::chrono::milliseconds max_delay{30000};
    std::chrono::milliseconds max_retry_after{60000};
};

} // namespace dirsync
