// Time as the mirror keeps it: a timestamp is the text the API sent (what the mirror stores) and
// the instant it names (what comparisons use). Also the wall clock, and the one text form dirsyncd
// writes: RFC 3339 UTC with milliseconds, "2026-03-02T09:15:27.481Z".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dirsync {

struct Timestamp {
    std::string text;
    std::int64_t micros{}; // microseconds since the Unix epoch
};

// Accepts every form the WorkOS API has produced: "2026-03-02T09:15:27.481Z",
// "2021-05-05T16:06:24+0000", "...+00:00", "2023-04-28 20:05:31.093" (no zone: UTC), with any
// number of fractional digits up to nine (kept to microseconds). Returns microseconds since the
// epoch, or nullopt when the text is none of these or names no real date.
std::optional<std::int64_t> parse_timestamp(std::string_view text);

// An HTTP-date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"), as sent in Retry-After.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC).
std::string format_timestamp(std::int64_t micros);

std::int64_t now_micros();
Timestamp now_timestamp();
std::string now_text(); // format_timestamp(now_micros())

} // namespace dirsync
