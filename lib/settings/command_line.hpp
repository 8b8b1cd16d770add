// The command line, the public contract:
//   dirsyncd [--config FILE] [--db PATH] [--api-url URL] [--ca-file PATH] [--log-level LEVEL]
//            [--once [--allow-deletions DIRECTORY_ID]...] [--version] [--help]
//   dirsyncd [global options] --once --dry-run [--json] [DIRECTORY_ID...]
//   dirsyncd [global options] status [--json]   (global options may also follow the subcommand)
//   dirsyncd [global options] check-config [--online]
//   dirsyncd [global options] resync [--no-wait] [DIRECTORY_ID...]
//   dirsyncd [global options] evict [--no-wait] DIRECTORY_ID
//   dirsyncd [global options] allow-deletions [--no-wait] DIRECTORY_ID
//   dirsyncd [global options] reload
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dirsync::settings {

enum class Subcommand { none, status, check_config, resync, evict, allow_deletions, reload };
// "status", "check-config", ... as typed on the command line.
char const* subcommand_name(Subcommand s);
// resync, evict, allow-deletions and reload steer the daemon (or do the work without one).
bool is_control(Subcommand s);

struct CommandLine {
    Subcommand subcommand = Subcommand::none;
    bool json = false;    // status --json, --once --dry-run --json
    bool online = false;  // check-config --online
    bool no_wait = false; // resync, evict, allow-deletions: return once the daemon has the job
    bool dry_run = false; // --once --dry-run: list, compare, print, change nothing
    // resync (any number), evict and allow-deletions (exactly one), --once --dry-run (any)
    std::vector<std::string> directories;
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
