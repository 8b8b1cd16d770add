#include "decode/timestamp.hpp"

#include <fmt/format.h>

#include <charconv>

namespace dirsync::decode {
namespace {

// Howard Hinnant's days_from_civil: proleptic Gregorian date -> days since 1970-01-01.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    std::int64_t const era = (y >= 0 ? y : y - 399) / 400;
    auto const yoe = static_cast<unsigned>(y - era * 400);
    unsigned const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d)
{
    z += 719468;
    std::int64_t const era = (z >= 0 ? z : z - 146096) / 146097;
    auto const doe = static_cast<unsigned>(z - era * 146097);
    unsigned const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    unsigned const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned const mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

// Reads exactly `n` digits at `pos` into `out`; false when they are not all digits.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out)
{
    if (pos + n > s.size())
        return false;
    auto const* first = s.data() + pos;
    auto [ptr, ec] = std::from_chars(first, first + n, out);
    return ec == std::errc{} && ptr == first + n;
}

bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m)
{
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

} // namespace

std::optional<std::int64_t> parse_timestamp(std::string_view s)
{
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
        !digits(s, 17, 2, second))
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return std::nullopt;

    std::size_t pos = 19;
    std::int64_t micros = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        std::int64_t scale = 100000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (scale > 0) {
                micros += (s[pos] - '0') * scale;
                scale /= 10;
            }
            ++pos;
            ++n;
        }
        if (n == 0 || n > 9)
            return std::nullopt;
    }

    std::int64_t offset_seconds = 0;
    if (pos == s.size()) {
        // no zone: the service's "2023-04-28 20:05:31.093" form, which is UTC
    } else if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    } else if (s[pos] == '+' || s[pos] == '-') {
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
        offset_seconds = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
        return std::nullopt;
    }

    std::int64_t const days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    std::int64_t const secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    return secs * 1000000 + micros;
}

std::optional<std::int64_t> parse_http_date(std::string_view s)
{
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
        return std::nullopt;
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (!digits(s, 5, 2, day) || !digits(s, 12, 4, year) || !digits(s, 17, 2, hour) ||
        !digits(s, 20, 2, minute) || !digits(s, 23, 2, second))
        return std::nullopt;
    int month = 0;
    for (int i = 0; i < 12; ++i)
        if (s.substr(8, 3) == months[i])
            month = i + 1;
    if (month == 0 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return std::nullopt;
    std::int64_t const days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    return (days * 86400 + hour * 3600 + minute * 60 + second) * 1000000;
}

std::string format_timestamp(std::int64_t micros)
{
    std::int64_t secs = micros / 1000000;
    std::int64_t rem = micros % 1000000;
    if (rem < 0) {
        rem += 1000000;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    std::int64_t y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(days, y, m, d);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, sod / 3600,
                       (sod / 60) % 60, sod % 60, rem / 1000);
}

} // namespace dirsync::decode
