#include "settings/command_line.hpp"

#include <fmt/format.h>

#include <optional>

namespace dirsync::settings {

std::string usage_text()
{
    return "usage: dirsyncd [--config FILE] [--db PATH] [--api-url URL] [--ca-file PATH]\n"
           "                [--log-level LEVEL] [--once] [--version] [--help]\n"
           "       dirsyncd [--config FILE] --once --dry-run [--json] [DIRECTORY_ID...]\n"
           "       dirsyncd [--config FILE] [--db PATH] status [--json]\n"
           "       dirsyncd [--config FILE] check-config [--online]\n"
           "       dirsyncd [--config FILE] resync [--no-wait] [DIRECTORY_ID...]\n"
           "       dirsyncd [--config FILE] evict [--no-wait] DIRECTORY_ID\n"
           "       dirsyncd [--config FILE] allow-deletions [--no-wait] DIRECTORY_ID\n"
           "       dirsyncd [--config FILE] reload\n"
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
           "  --dry-run          with --once: list as a full sync would (only the directories\n"
           "                     named, when any are) and print what it would add, update and\n"
           "                     delete, held deletions included; changes nothing the apps see\n"
           "                     and works while the daemon runs. --json for a machine\n"
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
           "  resync [DIRECTORY_ID...]\n"
           "                     a full sync of those directories (all when none is named) now\n"
           "  evict DIRECTORY_ID remove the directory's rows from the mirror (recorded in\n"
           "                     `changes`), then sync it again from scratch\n"
           "  allow-deletions DIRECTORY_ID\n"
           "                     release a hold: a full sync of the directory, started now, that\n"
           "                     applies its deletions even past max_delete_fraction, once\n"
           "  reload             what SIGHUP does; the exit status tells whether the daemon took\n"
           "                     the new config (0) or kept the old one (2)\n"
           "  The last four are done by the running daemon (the command waits for the result\n"
           "  unless --no-wait), or by the command itself when no daemon runs. Only root and the\n"
           "  daemon's user may run them (others: exit 2, permission denied). Exit status as for\n"
           "  --once.\n"
           "\n"
           "The API key comes from the environment variable WORKOS_API_KEY, or from the file "
           "named\n"
           "by api_key_file in the config file, never from the command line.\n";
}

char const* subcommand_name(Subcommand s)
{
    switch (s) {
    case Subcommand::none:
        return "";
    case Subcommand::status:
        return "status";
    case Subcommand::check_config:
        return "check-config";
    case Subcommand::resync:
        return "resync";
    case Subcommand::evict:
        return "evict";
    case Subcommand::allow_deletions:
        return "allow-deletions";
    case Subcommand::reload:
        return "reload";
    }
    return "";
}

bool is_control(Subcommand s)
{
    return s == Subcommand::resync || s == Subcommand::evict || s == Subcommand::allow_deletions ||
           s == Subcommand::reload;
}

namespace {

constexpr Subcommand subcommands[] = {Subcommand::status,          Subcommand::check_config,
                                      Subcommand::resync,          Subcommand::evict,
                                      Subcommand::allow_deletions, Subcommand::reload};

std::optional<Subcommand> parse_subcommand(std::string const& word)
{
    for (auto s : subcommands)
        if (word == subcommand_name(s))
            return s;
    return std::nullopt;
}

std::string known_subcommands()
{
    std::string out;
    for (auto s : subcommands)
        out += fmt::format("{}{}", out.empty() ? "" : ", ", subcommand_name(s));
    return out;
}

// The positional arguments: the subcommand and its directory ids, or --once --dry-run's ids.
std::optional<std::string> take_positionals(CommandLine& cl, std::vector<std::string> const& words)
{
    if (words.empty())
        return std::nullopt;
    if (cl.once) {
        if (parse_subcommand(words.front()))
            return std::string("--once does not go with a subcommand");
        if (!cl.dry_run)
            return fmt::format("unexpected argument '{}': --once syncs every directory in "
                               "scope (name directories with --dry-run, or use resync)",
                               words.front());
        cl.directories = words;
        return std::nullopt;
    }
    auto const s = parse_subcommand(words.front());
    if (!s)
        return fmt::format("unknown subcommand '{}' (known: {})", words.front(),
                           known_subcommands());
    cl.subcommand = *s;
    cl.directories.assign(words.begin() + 1, words.end());
    auto const n = cl.directories.size();
    bool const takes_ids =
        *s == Subcommand::resync || *s == Subcommand::evict || *s == Subcommand::allow_deletions;
    if (!takes_ids && n > 0)
        return fmt::format("unexpected argument '{}' after the subcommand", cl.directories[0]);
    if ((*s == Subcommand::evict || *s == Subcommand::allow_deletions) && n != 1)
        return fmt::format("{} takes exactly one directory id", subcommand_name(*s));
    for (auto const& id : cl.directories)
        if (id.empty())
            return std::string("a directory id cannot be empty");
    return std::nullopt;
}

} // namespace

std::variant<CommandLine, std::string> parse_command_line(std::vector<std::string> const& args)
{
    CommandLine cl;
    std::vector<std::string> positionals;
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
            arg == "--json" || arg == "--online" || arg == "--no-wait" || arg == "--dry-run") {
            if (inline_value)
                return fmt::format("{} takes no value", arg);
            (arg == "--once"      ? cl.once
             : arg == "--version" ? cl.version
             : arg == "--json"    ? cl.json
             : arg == "--online"  ? cl.online
             : arg == "--no-wait" ? cl.no_wait
             : arg == "--dry-run" ? cl.dry_run
                                  : cl.help) = true;
            continue;
        }
        if (arg.rfind("-", 0) != 0) {
            positionals.push_back(arg);
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
    if (auto error = take_positionals(cl, positionals))
        return *error;
    if (cl.dry_run && !cl.once)
        return std::string("--dry-run only goes with --once");
    if (cl.json && cl.subcommand != Subcommand::status && !cl.dry_run)
        return std::string("--json only goes with the status subcommand or --once --dry-run");
    if (cl.no_wait && cl.subcommand != Subcommand::resync && cl.subcommand != Subcommand::evict &&
        cl.subcommand != Subcommand::allow_deletions)
        return std::string("--no-wait only goes with resync, evict and allow-deletions");
    if (cl.online && cl.subcommand != Subcommand::check_config)
        return std::string("--online only goes with the check-config subcommand");
    if (cl.subcommand != Subcommand::none && cl.once)
        return std::string("--once does not go with a subcommand");
    if (!cl.allow_deletions.empty() && !cl.once)
        return std::string("--allow-deletions only goes with --once (or use the "
                           "allow-deletions subcommand)");
    if (!cl.allow_deletions.empty() && cl.dry_run)
        return std::string("--allow-deletions does not go with --dry-run (a dry run applies "
                           "nothing and shows held deletions as held)");
    return cl;
}

} // namespace dirsync::settings
