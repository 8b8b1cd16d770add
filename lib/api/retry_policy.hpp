// When and how long to wait before retrying a request. Pure functions: the caller passes the
// random number and the current time, so tests need no clock and no seed.
#pragma once

#include "model/api_options.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dirsync::api {

// 408, 429, 500, 502, 503, 504. Never 400/401/403/404/422.
bool is_retryable_status(unsigned status);

// Backoff after the `failures`-th failed attempt (1-based): min(base * 2^(failures-1), max),
// scaled by a jitter factor in [0.5, 1.5) taken from `unit_random` in [0, 1).
std::chrono::milliseconds backoff_delay(RetryPolicy const& policy, int failures,
                                        double unit_random);

// The wait a Retry-After header asks for: delta-seconds or an HTTP-date (relative to
// `now_micros`, microseconds since the epoch), capped at policy.max_retry_after. nullopt when the
// header cannot be read, so the caller falls back to backoff_delay.
std::optional<std::chrono::milliseconds>
retry_after_delay(RetryPolicy const& policy, std::string_view header, std::int64_t now_micros);

} // namespace dirsync::api
