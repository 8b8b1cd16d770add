// The control channel between `dirsyncd resync | evict | allow-deletions | reload` and the
// daemon: a Unix stream socket next to the database (`<database>.control`, mode 0600, owned by
// the daemon's user), one JSON line each way. The daemon also checks the peer's credentials:
// only root and its own user may steer it.
#pragma once

#include "settings/settings.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dirsync::daemon {

// Where the daemon of this database listens: found from the database path, as the daemon
// finds its database (from --db or the config).
std::string control_socket_path(std::string const& database_path);
// The socket of the settings: control_socket when set; else DATABASE.control for an SQLite
// mirror, /run/dirsyncd/SCHEMA.control for a PostgreSQL one (its database is no path).
std::string control_socket_path(settings::Settings const& s);

struct ControlRequest {
    std::string command; // "resync", "evict", "allow-deletions", "reload"
    std::vector<std::string> directories;
    bool wait = true; // false: the daemon answers once it has queued the work
};

// The command's exit status (exit_codes.hpp) and its one line for the operator.
struct ControlReply {
    int exit_code = 0;
    std::string message;
};

std::string encode(ControlRequest const& r); // one line, with its '\n'
std::string encode(ControlReply const& r);
// nullopt, with `error` set, for a line that is not one of ours.
std::optional<ControlRequest> decode_request(std::string const& line, std::string& error);
std::optional<ControlReply> decode_reply(std::string const& line, std::string& error);

// Who may steer the daemon: root and the daemon's own user.
bool may_steer(unsigned peer_uid, unsigned daemon_uid);
std::string permission_denied(unsigned daemon_uid);

} // namespace dirsync::daemon
