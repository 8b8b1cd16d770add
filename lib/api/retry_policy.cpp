#include "api/retry_policy.hpp"

#include "model/timestamp.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace dirsync::api {

bool is_retryable_status(unsigned status)
{
    switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return true;
    default:
        return false;
    }
}

std::chrono::milliseconds backoff_delay(RetryPolicy const& policy, int failures, double unit_random)
{
    double const exponent = std::clamp(failures - 1, 0, 30);
    double const raw = static_cast<double>(policy.base_delay.count()) * std::pow(2.0, exponent);
    double const capped = std::min(raw, static_cast<double>(policy.max_delay.count()));
    double const jitter = 0.5 + std::clamp(unit_random, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(capped * jitter));
}

std::optional<std::chrono::milliseconds>
retry_after_delay(RetryPolicy const& policy, std::string_view header, std::int64_t now_micros)
{
    while (!header.empty() && header.front() == ' ')
        header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ')
        header.remove_suffix(1);
    if (header.empty())
        return std::nullopt;

    std::chrono::milliseconds wait{};
    std::int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (ec == std::errc{} && ptr == header.data() + header.size()) {
        if (seconds < 0)
            return std::nullopt;
        wait = std::chrono::milliseconds(std::min<std::int64_t>(seconds, 86400) * 1000);
    } else if (auto at = parse_http_date(header)) {
        // Round up: waking a little late is harmless, a little early earns another 429.
        wait =
            std::chrono::milliseconds(std::max<std::int64_t>(0, (*at - now_micros + 999) / 1000));
    } else {
        return std::nullopt;
    }
    return std::min(wait, policy.max_retry_after);
}

} // namespace dirsync::api
