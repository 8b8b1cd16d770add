#include "settings/settings.hpp"

#include "model/url.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <sys/stat.h>

namespace dirsync::settings {
namespace {

// One config key: how to read it into Settings. `read` throws a plain message; the caller adds
// the file and the key.
using Reader = std::function<void(toml::node const&, Settings&)>;

std::string type_name(toml::node const& n)
{
    switch (n.type()) {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a number";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::table:
        return "a table";
    default:
        return "a date or time";
    }
}

std::string get_string(toml::node const& n)
{
    if (auto v = n.value_exact<std::string>())
        return *v;
    throw std::runtime_error("expected a string, got " + type_name(n));
}

bool get_bool(toml::node const& n)
{
    if (auto v = n.value_exact<bool>())
        return *v;
    throw std::runtime_error("expected true or false, got " + type_name(n));
}

double get_number(toml::node const& n, double min, double max)
{
    std::optional<double> v;
    if (n.is_integer())
        v = static_cast<double>(*n.value_exact<std::int64_t>());
    else if (n.is_floating_point())
        v = *n.value_exact<double>();
    if (!v)
        throw std::runtime_error("expected a number, got " + type_name(n));
    if (*v < min || *v > max)
        throw std::runtime_error(fmt::format("{} is out of range ({} to {})", *v, min, max));
    return *v;
}

std::int64_t get_integer(toml::node const& n, std::int64_t min, std::int64_t max)
{
    auto v = n.value_exact<std::int64_t>();
    if (!v)
        throw std::runtime_error("expected an integer, got " + type_name(n));
    if (*v < min || *v > max)
        throw std::runtime_error(fmt::format("{} is out of range ({} to {})", *v, min, max));
    return *v;
}

std::vector<std::string> get_string_array(toml::node const& n)
{
    auto const* arr = n.as_array();
    if (arr == nullptr)
        throw std::runtime_error("expected an array of strings, got " + type_name(n));
    std::vector<std::string> out;
    for (auto const& item : *arr) {
        auto v = item.value_exact<std::string>();
        if (!v || v->empty())
            throw std::runtime_error("expected an array of non-empty strings");
        out.push_back(*v);
    }
    return out;
}

std::chrono::milliseconds seconds(double s)
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
}

// A schema name dirsyncd uses as it is, unquoted in the apps' SQL: what is wrong with it.
std::optional<std::string> schema_name_problem(std::string const& name)
{
    static std::regex const plain("[a-z_][a-z0-9_]*");
    if (name.empty() || name.size() > 63)
        return "a schema name has 1 to 63 characters";
    if (!std::regex_match(name, plain))
        return "use lower-case letters, digits and _, not starting with a digit (apps name it "
               "unquoted)";
    if (name.starts_with("pg_"))
        return "names starting with pg_ are PostgreSQL's own";
    return std::nullopt;
}

std::map<std::string, Reader, std::less<>> const& readers()
{
    static std::map<std::string, Reader, std::less<>> const table{
        {"api_url",
         [](auto const& n, Settings& s) {
             s.api_url = get_string(n);
             std::string why;
             if (!parse_api_url(s.api_url, why))
                 throw std::runtime_error(fmt::format("'{}': {}", s.api_url, why));
         }},
        {"api_key_file", [](auto const& n, Settings& s) { s.api_key_file = get_string(n); }},
        {"database", [](auto const& n, Settings& s) { s.database = get_string(n); }},
        {"database_schema",
         [](auto const& n, Settings& s) {
             s.database_schema = get_string(n);
             if (auto why = schema_name_problem(s.database_schema))
                 throw std::runtime_error(fmt::format("'{}': {}", s.database_schema, *why));
         }},
        {"control_socket",
         [](auto const& n, Settings& s) {
             s.control_socket = get_string(n);
             if (s.control_socket->empty() || s.control_socket->front() != '/')
                 throw std::runtime_error(
                     fmt::format("'{}': give an absolute path", *s.control_socket));
         }},
        {"ca_file", [](auto const& n, Settings& s) { s.ca_file = get_string(n); }},
        {"log_level",
         [](auto const& n, Settings& s) {
             s.log_level = get_string(n);
             if (!is_log_level(s.log_level))
                 throw std::runtime_error(not_a_log_level(s.log_level));
         }},
        {"organizations",
         [](auto const& n, Settings& s) { s.sync.scope.organizations = get_string_array(n); }},
        {"directories",
         [](auto const& n, Settings& s) { s.sync.scope.directories = get_string_array(n); }},
        {"membership_source",
         [](auto const& n, Settings& s) {
             auto text = get_string(n);
             auto v = parse_membership_source(text);
             if (!v)
                 throw std::runtime_error(
                     fmt::format("'{}' is not one of auto, per_group, per_user, embedded", text));
             s.sync.directory.membership_source = *v;
         }},
        {"max_concurrent_directories",
         [](auto const& n, Settings& s) {
             s.sync.max_concurrent_directories = static_cast<int>(get_integer(n, 1, 1024));
         }},
        {"resume_window_seconds",
         [](auto const& n, Settings& s) {
             s.sync.directory.resume_window = std::chrono::seconds(get_integer(n, 0, 7 * 86400));
         }},
        {"max_pages_per_listing",
         [](auto const& n, Settings& s) {
             s.sync.directory.max_pages_per_listing = get_integer(n, 1, 100000000);
         }},
        {"max_objects_per_directory",
         [](auto const& n, Settings& s) {
             s.sync.directory.max_objects_per_directory = get_integer(n, 1, 1000000000);
         }},
        {"max_delete_fraction",
         [](auto const& n, Settings& s) {
             s.sync.directory.max_delete_fraction = get_number(n, 0.0, 1.0);
         }},
        {"progress_interval_seconds",
         [](auto const& n, Settings& s) {
             s.sync.directory.progress_interval = std::chrono::seconds(get_integer(n, 1, 3600));
         }},
        {"global_requests_per_second",
         [](auto const& n, Settings& s) {
             s.rate_limits.global_per_second = get_number(n, 0.1, 100000);
         }},
        {"directory_users_requests_per_second",
         [](auto const& n, Settings& s) {
             s.rate_limits.directory_users_per_second = get_number(n, 0.1, 100000);
         }},
        {"max_connections",
         [](auto const& n, Settings& s) {
             s.http.max_connections = static_cast<std::size_t>(get_integer(n, 1, 256));
         }},
        {"connect_timeout_seconds",
         [](auto const& n, Settings& s) {
             s.http.connect_timeout = seconds(get_number(n, 0.1, 600));
         }},
        {"request_timeout_seconds",
         [](auto const& n, Settings& s) {
             s.http.request_timeout = seconds(get_number(n, 0.1, 3600));
         }},
        {"max_response_bytes",
         [](auto const& n, Settings& s) {
             s.http.max_response_bytes =
                 static_cast<std::uint64_t>(get_integer(n, 1024, 1ll << 32));
         }},
        {"max_attempts",
         [](auto const& n, Settings& s) {
             s.retry.max_attempts = static_cast<int>(get_integer(n, 1, 20));
         }},
        {"poll_interval_seconds",
         [](auto const& n, Settings& s) { s.poll_interval = seconds(get_number(n, 0.1, 3600)); }},
        {"full_resync_interval_seconds",
         [](auto const& n, Settings& s) {
             s.full_resync_interval = std::chrono::seconds(get_integer(n, 60, 90 * 86400));
         }},
        {"event_types",
         [](auto const& n, Settings& s) {
             s.event_types = get_string_array(n);
             if (s.event_types.empty())
                 throw std::runtime_error("expected at least one event type");
             for (auto const& t : s.event_types)
                 if (t.rfind("dsync.", 0) != 0)
                     throw std::runtime_error(
                         fmt::format("'{}' is not a Directory Sync event type (dsync.*)", t));
         }},
        {"changes_retention_days",
         [](auto const& n, Settings& s) {
             s.changes_retention = std::chrono::hours(24 * get_integer(n, 1, 3650));
         }},
        {"event_retention_days",
         [](auto const& n, Settings& s) {
             s.event_retention = std::chrono::hours(24 * get_integer(n, 1, 365));
         }},
        {"max_database_bytes",
         [](auto const& n, Settings& s) {
             s.max_database_bytes = get_integer(n, 1 << 20, std::int64_t{1} << 46);
         }},
        {"status_heartbeat_seconds",
         [](auto const& n, Settings& s) {
             s.status_heartbeat = std::chrono::seconds(get_integer(n, 1, 86400));
         }},
        {"metrics_address",
         [](auto const& n, Settings& s) {
             std::string why;
             auto const text = get_string(n);
             s.metrics_address = parse_listen_address(text, why);
             if (!s.metrics_address)
                 throw std::runtime_error(fmt::format("'{}': {}", text, why));
         }},
        {"metrics_allow_remote",
         [](auto const& n, Settings& s) { s.metrics_allow_remote = get_bool(n); }},
        {"busy_timeout_seconds",
         [](auto const& n, Settings& s) { s.busy_timeout = seconds(get_number(n, 0, 3600)); }},
    };
    return table;
}

} // namespace

std::string not_a_log_level(std::string const& level)
{
    return fmt::format("'{}' is not one of trace, debug, info, warn, error, critical, off", level);
}

bool is_log_level(std::string const& level)
{
    for (char const* l : {"trace", "debug", "info", "warn", "error", "critical", "off"})
        if (level == l)
            return true;
    return false;
}

Settings load_settings(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw SettingsError(
            fmt::format("config file {}: cannot be read: {}", path, std::strerror(errno)));
    std::stringstream text;
    text << in.rdbuf();
    return parse_settings(text.str(), path);
}

Settings parse_settings(std::string_view content, std::string const& path)
{
    toml::table root;
    try {
        root = toml::parse(content, std::string_view(path));
    } catch (toml::parse_error const& e) {
        throw SettingsError(fmt::format("config file {}: line {}: {}", path, e.source().begin.line,
                                        e.description()));
    }

    Settings s;
    for (auto const& [key, node] : root) {
        auto const& table = readers();
        auto it = table.find(key.str());
        if (it == table.end())
            throw SettingsError(fmt::format("config file {}: line {}: unknown key '{}'", path,
                                            key.source().begin.line, key.str()));
        try {
            it->second(node, s);
        } catch (std::runtime_error const& e) {
            throw SettingsError(fmt::format("config file {}: line {}: key '{}': {}", path,
                                            node.source().begin.line, key.str(), e.what()));
        }
    }
    if (s.metrics_address && !s.metrics_address->loopback() && !s.metrics_allow_remote)
        throw SettingsError(fmt::format("config file {}: metrics_address {}:{} is not a loopback "
                                        "address; metrics tell about your directories: set "
                                        "metrics_allow_remote = true to serve them to the network",
                                        path, s.metrics_address->host, s.metrics_address->port));
    if (!s.sync.scope.directories.empty() && !s.sync.scope.organizations.empty())
        throw SettingsError(fmt::format("config file {}: set 'directories' or 'organizations', "
                                        "not both",
                                        path));
    return s;
}

std::string resolve_api_key(Settings const& settings,
                            std::map<std::string, std::string> const& environment,
                            std::function<void(std::string const&)> const& warn)
{
    if (auto it = environment.find("WORKOS_API_KEY");
        it != environment.end() && !it->second.empty())
        return it->second;

    std::optional<std::string> file = settings.api_key_file;
    std::string origin = "api_key_file";
    if (!file) {
        auto it = environment.find("CREDENTIALS_DIRECTORY");
        if (it == environment.end() || it->second.empty())
            throw SettingsError("no API key: set WORKOS_API_KEY, or api_key_file in the config "
                                "file, or pass the credential workos_api_key through systemd");
        file = it->second + "/workos_api_key";
        origin = "systemd credential";
    }
    std::ifstream in(*file, std::ios::binary);
    if (!in)
        throw SettingsError(
            fmt::format("{} {}: cannot be read: {}", origin, *file, std::strerror(errno)));
    struct stat st {};
    if (::stat(file->c_str(), &st) == 0 && (st.st_mode & S_IROTH))
        warn(fmt::format("{} {} is readable by every user on this host; chmod o-r it", origin,
                         *file));
    std::stringstream text;
    text << in.rdbuf();
    std::string key = text.str();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back())))
        key.pop_back();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front())))
        key.erase(key.begin());
    if (key.empty())
        throw SettingsError(fmt::format("{} {}: the file is empty", origin, *file));
    if (key.find_first_of(" \t\r\n") != std::string::npos)
        throw SettingsError(
            fmt::format("{} {}: the key must be a single line without spaces", origin, *file));
    return key;
}

} // namespace dirsync::settings
