// Everything dirsyncd can be told, with defaults; read from the TOML config file (see
// config/dirsyncd.toml), then overridden by the command line. Errors name the file and the key.
#pragma once

#include "model/api_options.hpp"
#include "model/http_options.hpp"
#include "model/listen_address.hpp"
#include "model/sync_options.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dirsync::settings {

class SettingsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Settings {
    std::string api_url = "https://api.workos.com";
    std::optional<std::string> api_key_file;
    std::string database = "/var/lib/dirsyncd/dirsyncd.db";
    // The schema of a PostgreSQL mirror (database is a postgresql:// URL or a conninfo).
    std::string database_schema = "dirsyncd";
    // The daemon's control socket (resync, evict, allow-deletions, reload); none: the default,
    // DATABASE.control for SQLite, /run/dirsyncd/SCHEMA.control for PostgreSQL.
    std::optional<std::string> control_socket;
    std::optional<std::string> ca_file;
    std::string log_level = "info";

    FullSyncOptions sync;
    TransportOptions http;
    RateLimits rate_limits;
    RetryPolicy retry;
    std::chrono::milliseconds busy_timeout{std::chrono::seconds(10)};
    std::optional<std::int64_t> max_database_bytes; // none: no cap beyond the disk's size

    // daemon mode
    std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};
    std::chrono::seconds full_resync_interval{std::chrono::hours(24)};
    std::vector<std::string> event_types; // empty: the default dsync.* types
    std::chrono::hours changes_retention{24 * 7};
    std::chrono::hours event_retention{24 * 30};
    // mirror_status.caught_up_at is rewritten at most this often when nothing else changed
    std::chrono::seconds status_heartbeat{60};
    // GET /metrics and /healthz; off when unset. Loopback or a Unix socket unless
    // metrics_allow_remote.
    std::optional<ListenAddress> metrics_address;
    bool metrics_allow_remote = false;
};

// Reads a config file over the defaults. Throws SettingsError naming the file and the key for an
// unreadable file, a TOML syntax error, an unknown key, a wrong type or a value out of range.
Settings load_settings(std::string const& path);

// The same, from the text of a config file; `origin` names it in error messages.
Settings parse_settings(std::string_view text, std::string const& origin);

// Checks a log level name ("trace", "debug", "info", "warn", "error", "critical", "off").
bool is_log_level(std::string const& level);
// What is wrong with a level that is not one: "'x' is not one of trace, ...".
std::string not_a_log_level(std::string const& level);

// The API key: $WORKOS_API_KEY when set and non-empty, else the contents of `api_key_file`
// (trailing white space trimmed), else $CREDENTIALS_DIRECTORY/workos_api_key (systemd
// LoadCredential=). `warn` receives a message for a key file that others can read. Throws
// SettingsError when there is no key, the file cannot be read, or the key is empty.
std::string resolve_api_key(Settings const& settings,
                            std::map<std::string, std::string> const& environment,
                            std::function<void(std::string const&)> const& warn);

} // namespace dirsync::settings
