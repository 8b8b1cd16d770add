#include "settings/settings.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

using namespace dirsync;
using namespace dirsync::settings;

namespace {

class SettingsTest : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string write(std::string const& name, std::string const& text)
    {
        auto path = dir.file(name);
        std::ofstream(path) << text;
        return path;
    }
    std::string load_error(std::string const& text)
    {
        auto path = write("c.toml", text);
        try {
            load_settings(path);
        } catch (SettingsError const& e) {
            return e.what();
        }
        return "";
    }
};

} // namespace

TEST_F(SettingsTest, TheShippedExampleConfigLoads)
{
    auto s = load_settings(std::string(DIRSYNC_FIXTURES) + "/../../config/dirsyncd.toml");
    EXPECT_EQ(s.api_url, "https://api.workos.com");
    EXPECT_EQ(s.sync.directory.membership_source, MembershipSource::automatic);
}

TEST_F(SettingsTest, ReadsKeysIntoTheirOptions)
{
    auto s = load_settings(write("c.toml", R"(
api_url = "https://localhost:8443"
database = "/tmp/x.db"
organizations = ["org_1", "org_2"]
membership_source = "per_user"
max_concurrent_directories = 2
global_requests_per_second = 20
directory_users_requests_per_second = 2.5
request_timeout_seconds = 1.5
)"));
    EXPECT_EQ(s.api_url, "https://localhost:8443");
    EXPECT_EQ(s.sync.scope.organizations, (std::vector<std::string>{"org_1", "org_2"}));
    EXPECT_EQ(s.sync.directory.membership_source, MembershipSource::per_user);
    EXPECT_EQ(s.rate_limits.directory_users_per_second, 2.5);
    EXPECT_EQ(s.rate_limits.global_per_second, 20.0);
    EXPECT_EQ(s.sync.max_concurrent_directories, 2);
    EXPECT_EQ(s.http.request_timeout, std::chrono::milliseconds(1500));
}

TEST_F(SettingsTest, UnknownKeyIsNamedWithFileAndLine)
{
    auto const e = load_error("database = \"x\"\nmembership = \"auto\"\n");
    EXPECT_NE(e.find("c.toml: line 2: unknown key 'membership'"), std::string::npos) << e;
}

TEST_F(SettingsTest, WrongTypeAndRangeAreNamed)
{
    EXPECT_NE(load_error("max_concurrent_directories = \"four\"")
                  .find("key 'max_concurrent_directories': expected an integer, got a string"),
              std::string::npos);
    EXPECT_NE(load_error("max_concurrent_directories = 0").find("out of range"), std::string::npos);
    EXPECT_NE(load_error("membership_source = \"groups\"").find("'groups' is not one of"),
              std::string::npos);
    EXPECT_NE(load_error("api_url = \"http://api.workos.com\"").find("loopback"),
              std::string::npos);
    EXPECT_NE(load_error("organizations = [\"a\"]\ndirectories = [\"b\"]").find("not both"),
              std::string::npos);
    EXPECT_NE(load_error("log_level = \"loud\"").find("key 'log_level'"), std::string::npos);
}

TEST_F(SettingsTest, TheDatabaseSchemaIsANamePostgresAppsUseUnquoted)
{
    EXPECT_EQ(parse_settings("", "c.toml").database_schema, "dirsyncd");
    EXPECT_EQ(parse_settings("database_schema = \"directory_mirror_2\"", "c.toml").database_schema,
              "directory_mirror_2");
    for (auto const* bad : {"Mixed", "2fast", "has-dash", "pg_mine", ""}) {
        auto const e = load_error(fmt::format("database_schema = \"{}\"", bad));
        EXPECT_NE(e.find("key 'database_schema'"), std::string::npos) << bad << ": " << e;
    }
    EXPECT_NE(load_error("database_schema = \"" + std::string(64, 'a') + "\"").find("1 to 63"),
              std::string::npos);
}

TEST_F(SettingsTest, SyntaxErrorNamesTheLine)
{
    EXPECT_NE(load_error("a = 1\nb = [\n").find("c.toml: line"), std::string::npos);
}

TEST_F(SettingsTest, MissingFileIsNamed)
{
    try {
        load_settings(dir.file("absent.toml"));
        FAIL();
    } catch (SettingsError const& e) {
        EXPECT_NE(std::string(e.what()).find("absent.toml: cannot be read"), std::string::npos);
    }
}

TEST_F(SettingsTest, ApiKeyFromEnvironmentFirst)
{
    Settings s;
    s.api_key_file = write("key", "sk_from_file\n");
    std::vector<std::string> warnings;
    auto warn = [&](std::string const& w) { warnings.push_back(w); };
    EXPECT_EQ(resolve_api_key(s, {{"WORKOS_API_KEY", "sk_env"}}, warn), "sk_env");
    ::chmod(s.api_key_file->c_str(), 0600);
    EXPECT_EQ(resolve_api_key(s, {}, warn), "sk_from_file");
    EXPECT_TRUE(warnings.empty());
}

TEST_F(SettingsTest, ApiKeyFileReadableByOthersWarns)
{
    Settings s;
    s.api_key_file = write("key", "sk_from_file");
    ::chmod(s.api_key_file->c_str(), 0644);
    std::vector<std::string> warnings;
    EXPECT_EQ(resolve_api_key(s, {}, [&](std::string const& w) { warnings.push_back(w); }),
              "sk_from_file");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("readable by every user"), std::string::npos);
    EXPECT_EQ(warnings[0].find("sk_from_file"), std::string::npos);
}

TEST_F(SettingsTest, ApiKeyFromSystemdCredential)
{
    Settings s;
    write("workos_api_key", "sk_cred\n");
    EXPECT_EQ(resolve_api_key(s, {{"CREDENTIALS_DIRECTORY", dir.path().string()}},
                              [](std::string const&) {}),
              "sk_cred");
}

TEST_F(SettingsTest, MissingOrEmptyKeyIsAnError)
{
    Settings s;
    auto none = [](std::string const&) {};
    EXPECT_THROW(resolve_api_key(s, {}, none), SettingsError);
    s.api_key_file = dir.file("absent");
    EXPECT_THROW(resolve_api_key(s, {}, none), SettingsError);
    s.api_key_file = write("empty", "\n");
    EXPECT_THROW(resolve_api_key(s, {}, none), SettingsError);
}

TEST_F(SettingsTest, MetricsAddressLoopbackOrUnixSocketUnlessAllowed)
{
    auto const path = write("m.toml", "metrics_address = \"127.0.0.1:9464\"\n"
                                      "status_heartbeat_seconds = 30\n");
    auto const s = load_settings(path);
    ASSERT_TRUE(s.metrics_address);
    EXPECT_EQ(s.metrics_address->host, "127.0.0.1");
    EXPECT_EQ(s.metrics_address->port, 9464);
    EXPECT_EQ(s.status_heartbeat, std::chrono::seconds(30));
    EXPECT_TRUE(load_settings(write("u.toml", "metrics_address = \"/run/d/m.sock\"\n"))
                    .metrics_address->unix_path);
    EXPECT_EQ(
        load_settings(write("v6.toml", "metrics_address = \"[::1]:9\"\n")).metrics_address->host,
        "::1");
    EXPECT_NE(load_error("metrics_address = \"0.0.0.0:9464\"").find("metrics_allow_remote"),
              std::string::npos);
    EXPECT_NO_THROW(load_settings(
        write("r.toml", "metrics_address = \"0.0.0.0:9464\"\nmetrics_allow_remote = true\n")));
    EXPECT_NE(load_error("metrics_address = \"localhost\"").find("HOST:PORT"), std::string::npos);
    EXPECT_NE(load_error("metrics_address = \"127.0.0.1:99999\"").find("1 to 65535"),
              std::string::npos);
    EXPECT_NE(load_error("status_heartbeat_seconds = 0").find("out of range"), std::string::npos);
}
