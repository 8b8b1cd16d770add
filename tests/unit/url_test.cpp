#include "model/url.hpp"

#include <gtest/gtest.h>

using namespace dirsync;

TEST(ApiUrl, DefaultsAndPorts)
{
    std::string why;
    auto u = parse_api_url("https://api.workos.com", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->host, "api.workos.com");
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->base_path, "");
    u = parse_api_url("https://localhost:8443/prefix/", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->port, "8443");
    EXPECT_EQ(u->base_path, "/prefix");
    u = parse_api_url("https://[::1]:9000", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->host, "::1");
}

TEST(ApiUrl, PlainHttpOnlyToLoopback)
{
    std::string why;
    EXPECT_TRUE(parse_api_url("http://127.0.0.1:8080", why));
    EXPECT_TRUE(parse_api_url("http://localhost:8080", why));
    EXPECT_TRUE(parse_api_url("http://[::1]:8080", why));
    EXPECT_FALSE(parse_api_url("http://api.workos.com", why));
    EXPECT_NE(why.find("loopback"), std::string::npos);
    EXPECT_FALSE(parse_api_url("http://10.0.0.1", why));
}

TEST(ApiUrl, RejectsOtherForms)
{
    std::string why;
    for (auto const* bad : {"api.workos.com", "ftp://x", "https://", "https://h:0",
                            "https://h:99999", "https://h:abc", "https://u:p@h", "https://h/?q=1"})
        EXPECT_FALSE(parse_api_url(bad, why)) << bad;
}
