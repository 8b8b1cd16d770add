// The command's end of the control channel (control_protocol.hpp): blocking, one request.
#pragma once

#include "control_protocol.hpp"

#include <optional>
#include <string>

namespace dirsync::daemon {

// The daemon's reply; nullopt when no daemon listens on `socket_path` (no socket, or one a dead
// daemon left). A socket we may not use is a "permission denied" reply (exit 2); a daemon that
// closes the connection before answering, an exit-1 reply saying so.
std::optional<ControlReply> ask_daemon(std::string const& socket_path,
                                       ControlRequest const& request);

} // namespace dirsync::daemon
