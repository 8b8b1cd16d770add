#include "settings/command_line.hpp"

#include <fmt/format.h>

namespace dirsync::settings {

std::string usage_text()
{
    return "usage: dirsyncd [--config FILE] [--db PATH] [--api-url URL] [--ca-file PATH]\n"
           "                [--log-level LEVEL] [--once] [--version] [--help]\n"
           "       dirsyncd [--config FILE] [--db PATH] status [--json]\n"
           "       dirsyncd [--config FILE] check-config [--online]\n"
           "\n"
           "Mirrors the WorkOS Directory Sync directories that the API key can see into a local\n"
           "SQLite database.\n"
           "\n"
           "  --config FILE      TOML config file (see config/dirsyncd.toml)\n"
           "  --db PATH          SQLite database to write (default /var/lib/dirsyncd/dirsyncd.db)\n"
           "  --api-url URL      WorkOS API base URL (default https://api.workos.com)\n"
           "  --ca-file PATH     PEM file of CA certificates to trust instead of the system store\n"
           "  --log-level LEVEL  trace, debug, info (default), warn, error, critical, off\n"
           "  --once             run one full sync of every directory, then exit\n"
           "  --allow-deletions DIRECTORY_ID\n"
           "                     with --once: apply that directory's sync even if it deletes more\n"
           "                     than max_delete_fraction (repeat for several directories)\n"
           "  --version          print the version and exit\n"
           "  --help             print this text and exit\n"
           "\n"
           "Subcommands (the global options may come before or after them):\n"
           "  status [--json]    what the mirror holds and how fresh it is, read-only (a reader\n"
           "                     may run it, with or without a daemon). Exit status: 0 when every\n"
           "                     directory is ok and a running daemon caught up with the event\n"
           "                     stream within 3 poll intervals; 1 when a directory is held,\n"
           "                     failing or never synced, or the daemon is stale; 5 when the\n"
           "                     database cannot be read\n"
           "  check-config [--online]\n"
           "                     read the config and the API key as the daemon would; exit 0, or\n"
           "                     2 with the error (file, line, key). --online also makes one\n"
           "                     authenticated request and tells how many directories the key\n"
           "                     sees (exit 3: key rejected, 4: API unreachable)\n"
           "\n"
           "The API key comes from the environment variable WORKOS_API_KEY, or from the file "
           "named\n"
           "by api_key_file in the config file, never from the command line.\n";
}

std::variant<CommandLine, std::string> parse_command_line(std::vector<std::string> const& args)
{
    CommandLine cl;
    struct Valued {
        char const* name;
        std::optional<std::string> CommandLine::*field;
    };
    static constexpr Valued valued[] = {
        {"--config", &CommandLine::config},       {"--db", &CommandLine::db},
        {"--api-url", &CommandLine::api_url},     {"--ca-file", &CommandLine::ca_file},
        {"--log-level", &CommandLine::log_level},
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        if (arg == "--once" || arg == "--version" || arg == "--help" || arg == "-h" ||
            arg == "--json" || arg == "--online") {
            if (inline_value)
                return fmt::format("{} takes no value", arg);
            (arg == "--once"      ? cl.once
             : arg == "--version" ? cl.version
             : arg == "--json"    ? cl.json
             : arg == "--online"  ? cl.online
                                  : cl.help) = true;
            continue;
        }
        if (arg.rfind("-", 0) != 0) {
            if (cl.subcommand != Subcommand::none)
                return fmt::format("unexpected argument '{}' after the subcommand", arg);
            if (arg == "status")
                cl.subcommand = Subcommand::status;
            else if (arg == "check-config")
                cl.subcommand = Subcommand::check_config;
            else
                return fmt::format("unknown subcommand '{}' (known: status, check-config)", arg);
            continue;
        }
        if (arg == "--allow-deletions") {
            std::string value = inline_value.value_or("");
            if (!inline_value) {
                if (i + 1 >= args.size())
                    return std::string("--allow-deletions needs a directory id");
                value = args[++i];
            }
            if (value.empty())
                return std::string("--allow-deletions needs a directory id");
            cl.allow_deletions.push_back(value);
            continue;
        }
        if (arg == "--api-key")
            return std::string("the API key is not taken on the command line (it would show in "
                               "the process list); set WORKOS_API_KEY or api_key_file");
        bool known = false;
        for (auto const& v : valued) {
            if (arg != v.name)
                continue;
            known = true;
            std::string value;
            if (inline_value) {
                value = *inline_value;
            } else {
                if (i + 1 >= args.size())
                    return fmt::format("{} needs a value", arg);
                value = args[++i];
            }
            if (value.empty())
                return fmt::format("{} needs a non-empty value", arg);
            cl.*(v.field) = value;
        }
        if (!known)
            return fmt::format("unknown argument '{}'", args[i]);
    }
    if (cl.json && cl.subcommand != Subcommand::status)
        return std::string("--json only goes with the status subcommand");
    if (cl.online && cl.subcommand != Subcommand::check_config)
        return std::string("--online only goes with the check-config subcommand");
    if (cl.subcommand != Subcommand::none && cl.once)
        return std::string("--once does not go with a subcommand");
    if (!cl.allow_deletions.empty() && !cl.once)
        return std::string("--allow-deletions only goes with --once");
    return cl;
}

} // namespace dirsync::settings
