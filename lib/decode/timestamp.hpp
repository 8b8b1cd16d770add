// Parsing of the timestamp forms the WorkOS API has produced (spec section 1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dirsync::decode {

// Accepts "2026-03-02T09:15:27.481Z", "2021-05-05T16:06:24+0000", "...+00:00",
// "2023-04-28 20:05:31.093" (no zone: UTC) and any number of fractional digits (kept to
// microseconds). Returns microseconds since the Unix epoch, or nullopt when the text is none of
// these.
std::optional<std::int64_t> parse_timestamp(std::string_view text);

// Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC).
std::string format_timestamp(std::int64_t micros);

} // namespace dirsync::decode

namespace dirsync::decode {

// Parses an HTTP-date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"), as sent in
// Retry-After. Returns microseconds since the Unix epoch.
std::optional<std::int64_t> parse_http_date(std::string_view text);

} // namespace dirsync::decode
