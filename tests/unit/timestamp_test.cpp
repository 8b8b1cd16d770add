#include "model/timestamp.hpp"

#include <gtest/gtest.h>

using dirsync::format_timestamp;
using dirsync::parse_http_date;
using dirsync::parse_timestamp;

namespace {
constexpr std::int64_t base = 1777713327; // 2026-05-02T09:15:27Z
}

TEST(Timestamp, ParsesIsoWithMillisecondsAndZ)
{
    EXPECT_EQ(parse_timestamp("2026-05-02T09:15:27.481Z"), base * 1000000 + 481000);
}

TEST(Timestamp, ParsesOffsetWithoutColon)
{
    EXPECT_EQ(parse_timestamp("2026-05-02T11:15:27+0200"), base * 1000000);
    EXPECT_EQ(parse_timestamp("2026-05-02T09:15:27+0000"), base * 1000000);
}

TEST(Timestamp, ParsesOffsetWithColonAndNegativeOffset)
{
    EXPECT_EQ(parse_timestamp("2026-05-02T04:15:27-05:00"), base * 1000000);
}

TEST(Timestamp, TreatsSpaceSeparatedWithoutZoneAsUtc)
{
    EXPECT_EQ(parse_timestamp("2026-05-02 09:15:27.093"), base * 1000000 + 93000);
}

TEST(Timestamp, KeepsMicrosecondsAndDropsNanoseconds)
{
    EXPECT_EQ(parse_timestamp("2026-05-02T09:15:27.123456Z"), base * 1000000 + 123456);
    EXPECT_EQ(parse_timestamp("2026-05-02T09:15:27.123456789Z"), base * 1000000 + 123456);
}

TEST(Timestamp, RejectsMalformedText)
{
    for (auto const* bad :
         {"", "2026-05-02", "2026-13-02T09:15:27Z", "2026-02-30T09:15:27Z", "2026-05-02T25:15:27Z",
          "2026-05-02T09:15:27.Z", "2026-05-02T09:15:27+5", "2026-05-02T09:15:27 UTC", "yesterday",
          "2026-05-02X09:15:27Z"})
        EXPECT_FALSE(parse_timestamp(bad)) << bad;
}

TEST(Timestamp, FormatsRoundTrip)
{
    EXPECT_EQ(format_timestamp(base * 1000000 + 481000), "2026-05-02T09:15:27.481Z");
    EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
}

TEST(HttpDate, ParsesImfFixdate)
{
    EXPECT_EQ(parse_http_date("Sat, 02 May 2026 09:15:27 GMT"), base * 1000000);
    EXPECT_FALSE(parse_http_date("Sat, 02 Foo 2026 09:15:27 GMT"));
    EXPECT_FALSE(parse_http_date("1"));
}
