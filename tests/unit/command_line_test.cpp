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
    EXPECT_EQ(error({"stray"}), "unknown subcommand 'stray' (known: status, check-config, resync, "
                                "evict, allow-deletions, reload)");
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
    EXPECT_EQ(error({"stauts"}), "unknown subcommand 'stauts' (known: status, check-config, "
                                 "resync, evict, allow-deletions, reload)");
    EXPECT_EQ(error({"status", "extra"}), "unexpected argument 'extra' after the subcommand");
    EXPECT_EQ(error({"--json"}), "--json only goes with the status subcommand or --once --dry-run");
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

TEST(CommandLine, ControlSubcommandsTakeTheirDirectoriesAndNoWait)
{
    auto cl = ok({"resync", "--config", "c.toml", "directory_a", "directory_b", "--no-wait"});
    EXPECT_EQ(cl.subcommand, Subcommand::resync);
    EXPECT_EQ(cl.directories, (std::vector<std::string>{"directory_a", "directory_b"}));
    EXPECT_TRUE(cl.no_wait);
    EXPECT_EQ(cl.config, "c.toml");
    EXPECT_TRUE(ok({"resync"}).directories.empty());
    EXPECT_EQ(ok({"--db", "m.db", "evict", "directory_a"}).subcommand, Subcommand::evict);
    EXPECT_EQ(ok({"allow-deletions", "directory_a"}).directories,
              std::vector<std::string>{"directory_a"});
    EXPECT_EQ(ok({"reload"}).subcommand, Subcommand::reload);
    EXPECT_TRUE(is_control(Subcommand::reload));
    EXPECT_FALSE(is_control(Subcommand::status));
    EXPECT_EQ(error({"evict"}), "evict takes exactly one directory id");
    EXPECT_EQ(error({"allow-deletions", "a", "b"}),
              "allow-deletions takes exactly one directory id");
    EXPECT_EQ(error({"reload", "x"}), "unexpected argument 'x' after the subcommand");
    EXPECT_EQ(error({"reload", "--no-wait"}),
              "--no-wait only goes with resync, evict and allow-deletions");
    EXPECT_EQ(error({"--allow-deletions", "d", "resync"}),
              "--allow-deletions only goes with --once (or use the allow-deletions subcommand)");
}

TEST(CommandLine, TheDryRunGoesWithOnceAndNamesDirectories)
{
    auto cl = ok({"--once", "--dry-run", "--json", "directory_a"});
    EXPECT_TRUE(cl.once);
    EXPECT_TRUE(cl.dry_run);
    EXPECT_TRUE(cl.json);
    EXPECT_EQ(cl.directories, std::vector<std::string>{"directory_a"});
    EXPECT_TRUE(ok({"--dry-run", "--once"}).directories.empty());
    EXPECT_EQ(error({"--dry-run"}), "--dry-run only goes with --once");
    EXPECT_NE(error({"--once", "directory_a"}).find("unexpected argument 'directory_a'"),
              std::string::npos);
    EXPECT_NE(error({"--once", "--dry-run", "--allow-deletions", "d"}).find("does not go with"),
              std::string::npos);
}
