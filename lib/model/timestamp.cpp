#include "model/timestamp.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <chrono>

namespace dirsync {
namespace chr = std::chrono;

namespace {

// Reads exactly `n` digits at `pos` into `out`; false when they are not all digits.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out)
{
    if (pos + n > s.size())
        return false;
    auto const* first = s.data() + pos;
    auto [ptr, ec] = std::from_chars(first, first + n, out);
    return ec == std::errc{} && ptr == first + n;
}

// A calendar date and a time of day (a leap second, :60, is accepted and rolls over) as
// microseconds since the epoch; nullopt for a date that does not exist.
std::optional<std::int64_t> to_micros(int y, int mo, int d, int h, int mi, int s)
{
    chr::year_month_day const date{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                   chr::day{static_cast<unsigned>(d)}};
    if (!date.ok() || h > 23 || mi > 59 || s > 60)
        return std::nullopt;
    auto const at = chr::sys_days{date} + chr::hours{h} + chr::minutes{mi} + chr::seconds{s};
    return chr::duration_cast<chr::microseconds>(at.time_since_epoch()).count();
}

// The fractional seconds after the '.' at `pos` (1 to 9 digits, kept to microseconds); moves
// `pos` past them.
std::optional<std::int64_t> fraction(std::string_view s, std::size_t& pos)
{
    std::int64_t micros = 0;
    std::int64_t scale = 100000;
    std::size_t n = 0;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++n) {
        micros += (s[pos] - '0') * scale;
        scale /= 10;
    }
    if (n == 0 || n > 9)
        return std::nullopt;
    return micros;
}

// The zone from `pos` to the end: nothing (UTC), "Z", "+HH:MM", "+HHMM" or "+HH"; returns the
// offset east of UTC in seconds.
std::optional<int> zone_offset(std::string_view s, std::size_t pos)
{
    if (pos == s.size())
        return 0; // the service's "2023-04-28 20:05:31.093" form, which is UTC
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size())
        return 0;
    if (s[pos] != '+' && s[pos] != '-')
        return std::nullopt;
    int oh = 0, om = 0;
    std::size_t const rest = s.size() - pos - 1;
    bool ok = false;
    if (rest == 5 && s[pos + 3] == ':')
        ok = digits(s, pos + 1, 2, oh) && digits(s, pos + 4, 2, om);
    else if (rest == 4)
        ok = digits(s, pos + 1, 2, oh) && digits(s, pos + 3, 2, om);
    else if (rest == 2)
        ok = digits(s, pos + 1, 2, oh);
    if (!ok || oh > 23 || om > 59)
        return std::nullopt;
    return (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
}

} // namespace

std::optional<std::int64_t> parse_timestamp(std::string_view s)
{
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (s.size() < 19 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
        !digits(s, 17, 2, second))
        return std::nullopt;
    std::size_t pos = 19;
    std::int64_t micros = 0;
    if (pos < s.size() && s[pos] == '.') {
        auto const f = fraction(s, ++pos);
        if (!f)
            return std::nullopt;
        micros = *f;
    }
    auto const offset = zone_offset(s, pos);
    auto const at = to_micros(year, month, day, hour, minute, second);
    if (!offset || !at)
        return std::nullopt;
    return *at + micros - std::int64_t{*offset} * 1000000;
}

std::optional<std::int64_t> parse_http_date(std::string_view s)
{
    static constexpr std::array<std::string_view, 12> months{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
        return std::nullopt;
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (!digits(s, 5, 2, day) || !digits(s, 12, 4, year) || !digits(s, 17, 2, hour) ||
        !digits(s, 20, 2, minute) || !digits(s, 23, 2, second))
        return std::nullopt;
    for (std::size_t i = 0; i < months.size(); ++i)
        if (s.substr(8, 3) == months[i])
            return to_micros(year, static_cast<int>(i) + 1, day, hour, minute, second);
    return std::nullopt;
}

std::string format_timestamp(std::int64_t micros)
{
    chr::sys_time<chr::milliseconds> const at{
        chr::floor<chr::milliseconds>(chr::microseconds{micros})};
    auto const day = chr::floor<chr::days>(at);
    chr::year_month_day const date{day};
    chr::hh_mm_ss const time{at - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                       time.hours().count(), time.minutes().count(), time.seconds().count(),
                       time.subseconds().count());
}

std::int64_t now_micros()
{
    return chr::duration_cast<chr::microseconds>(chr::system_clock::now().time_since_epoch())
        .count();
}

Timestamp now_timestamp()
{
    auto const us = now_micros();
    return {format_timestamp(us), us};
}

std::string now_text()
{
    return format_timestamp(now_micros());
}

} // namespace dirsync
