#include "control_protocol.hpp"

#include "pg/conninfo.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <pwd.h>

namespace dirsync::daemon {
namespace json = boost::json;

std::string control_socket_path(std::string const& database_path)
{
    std::error_code ec;
    auto const absolute = std::filesystem::absolute(database_path, ec);
    return (ec ? database_path : absolute.string()) + ".control";
}

std::string control_socket_path(settings::Settings const& s)
{
    if (s.control_socket)
        return *s.control_socket;
    if (pg::is_postgres_target(s.database))
        return "/run/dirsyncd/" + s.database_schema + ".control";
    return control_socket_path(s.database);
}

std::string encode(ControlRequest const& r)
{
    json::array dirs;
    for (auto const& d : r.directories)
        dirs.emplace_back(d);
    return json::serialize(json::object{
               {"command", r.command}, {"directories", std::move(dirs)}, {"wait", r.wait}}) +
           "\n";
}

std::string encode(ControlReply const& r)
{
    return json::serialize(json::object{{"exit", r.exit_code}, {"message", r.message}}) + "\n";
}

std::optional<ControlRequest> decode_request(std::string const& line, std::string& error)
{
    boost::system::error_code ec;
    auto const v = json::parse(line, ec);
    auto const* o = ec ? nullptr : v.if_object();
    auto const* command = o ? o->if_contains("command") : nullptr;
    auto const* dirs = o ? o->if_contains("directories") : nullptr;
    auto const* wait = o ? o->if_contains("wait") : nullptr;
    if (!command || !command->is_string() || !dirs || !dirs->is_array() || !wait ||
        !wait->is_bool()) {
        error = "not a dirsyncd control request";
        return std::nullopt;
    }
    ControlRequest r;
    r.command = std::string(command->get_string());
    r.wait = wait->get_bool();
    for (auto const& d : dirs->get_array()) {
        if (!d.is_string() || d.get_string().empty()) {
            error = "a directory id must be a non-empty string";
            return std::nullopt;
        }
        r.directories.emplace_back(d.get_string());
    }
    return r;
}

std::optional<ControlReply> decode_reply(std::string const& line, std::string& error)
{
    boost::system::error_code ec;
    auto const v = json::parse(line, ec);
    auto const* o = ec ? nullptr : v.if_object();
    auto const* code = o ? o->if_contains("exit") : nullptr;
    auto const* message = o ? o->if_contains("message") : nullptr;
    if (!code || !code->is_int64() || !message || !message->is_string()) {
        error = "the daemon's answer is not a dirsyncd control reply";
        return std::nullopt;
    }
    return ControlReply{static_cast<int>(code->get_int64()), std::string(message->get_string())};
}

bool may_steer(unsigned peer_uid, unsigned daemon_uid)
{
    return peer_uid == 0 || peer_uid == daemon_uid;
}

std::string permission_denied(unsigned daemon_uid)
{
    auto const* pw = ::getpwuid(daemon_uid);
    return fmt::format("permission denied: only root and the daemon's user ({}) may steer "
                       "dirsyncd; readers may run `dirsyncd status`",
                       pw ? pw->pw_name : std::to_string(daemon_uid));
}

} // namespace dirsync::daemon
