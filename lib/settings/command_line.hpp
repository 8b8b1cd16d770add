// The command line, the public contract:
//   dirsyncd [--config FILE] [--db PATH] [--api-url URL] [--ca-file PATH] [--log-level LEVEL]
//            [--once [--allow-deletions DIRECTORY_ID]...] [--version] [--help]
//   dirsyncd [global options] status [--json]   (global options may also follow the subcommand)
//   dirsyncd [global options] check-config [--online]
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dirsync::settings {

enum class Subcommand { none, status, check_config };

struct CommandLine {
    Subcommand subcommand = Subcommand::none;
    bool json = false;   // status --json
    bool online = false; // check-config --online
    std::optional<std::string> config;
    std::optional<std::string> db;
    std::optional<std::string> api_url;
    std::optional<std::string> ca_file;
    std::optional<std::string> log_level;
    bool once = false;
    std::vector<std::string> allow_deletions; // directories whose held deletions may go ahead
    bool version = false;
    bool help = false;
};

// Returns the parsed options, or an error message naming the offending argument.
std::variant<CommandLine, std::string> parse_command_line(std::vector<std::string> const& args);

std::string usage_text();

} // namespace dirsync::settings
