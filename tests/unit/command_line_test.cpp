#include "settings/command_line.hpp"

#include <gtest/gtest.h>

using namespace dirsync::settings;

namespace {
CommandLine ok(std::vector<std::string> args)
{
    auto r = parse_command_line(args);
    if (auto const* e = std::get_if<std::string>(&r))
        ADD_FAILURE() << *e;
    return std::get<CommandLine>(r);
}
std::string error(std::vector<std::string> args)
{
    auto r = parse_command_line(args);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}
} // namespace

TEST(CommandLine, EveryOptionOfTheContract)
{
    auto cl = ok({"--config", "c.toml", "--db", "m.db", "--api-url", "https://x", "--ca-file",
                  "ca.pem", "--log-level", "debug", "--once"});
    EXPECT_EQ(cl.config, "c.toml");
    EXPECT_EQ(cl.db, "m.db");
    EXPECT_EQ(cl.api_url, "https://x");
    EXPECT_EQ(cl.ca_file, "ca.pem");
    EXPECT_EQ(cl.log_level, "debug");
    EXPECT_TRUE(cl.once);
    EXPECT_TRUE(ok({"--version"}).version);
    EXPECT_TRUE(ok({"--help"}).help);
    EXPECT_EQ(ok({"--db=x.db"}).db, "x.db");
}

TEST(CommandLine, ErrorsNameTheArgument)
{
    EXPECT_EQ(error({"--bogus"}), "unknown argument '--bogus'");
    EXPECT_EQ(error({"--db"}), "--db needs a value");
    EXPECT_EQ(error({"--once=yes"}), "--once takes no value");
    EXPECT_NE(error({"--api-key", "sk_x"}).find("not taken on the command line"),
              std::string::npos);
    EXPECT_EQ(error({"stray"}), "unknown subcommand 'stray' (known: status, check-config)");
}

TEST(CommandLine, TheStatusSubcommandTakesTheGlobalOptionsOnEitherSide)
{
    auto cl = ok({"--config", "c.toml", "status", "--json"});
    EXPECT_EQ(cl.subcommand, Subcommand::status);
    EXPECT_TRUE(cl.json);
    EXPECT_EQ(cl.config, "c.toml");
    cl = ok({"status", "--db", "m.db"});
    EXPECT_EQ(cl.subcommand, Subcommand::status);
    EXPECT_EQ(cl.db, "m.db");
    EXPECT_FALSE(cl.json);
    EXPECT_EQ(error({"stauts"}), "unknown subcommand 'stauts' (known: status, check-config)");
    EXPECT_EQ(error({"status", "extra"}), "unexpected argument 'extra' after the subcommand");
    EXPECT_EQ(error({"--json"}), "--json only goes with the status subcommand");
    EXPECT_EQ(error({"status", "--once"}), "--once does not go with a subcommand");
}

TEST(CommandLine, CheckConfigTakesOnline)
{
    auto cl = ok({"check-config", "--config", "c.toml", "--online"});
    EXPECT_EQ(cl.subcommand, Subcommand::check_config);
    EXPECT_TRUE(cl.online);
    EXPECT_FALSE(ok({"--config", "c.toml", "check-config"}).online);
    EXPECT_EQ(error({"--online"}), "--online only goes with the check-config subcommand");
}
