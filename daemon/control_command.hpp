// `dirsyncd resync | evict | allow-deletions | reload`: to the running daemon if there is one;
// main.cpp does the work itself (as --once would) when there is none.
#pragma once

#include "settings/command_line.hpp"
#include "sync/operator_sync.hpp"

#include <optional>
#include <string>

namespace dirsync::daemon {

// Asks the daemon listening on `socket_path` (control_socket_path), prints its one line and
// returns its exit status; nullopt when no daemon listens.
std::optional<int> steer_running_daemon(settings::CommandLine const& cl,
                                        std::string const& socket_path);

// The request resync, evict or allow-deletions make of the sync.
sync::OperatorRequest operator_request_of(settings::CommandLine const& cl);

} // namespace dirsync::daemon
