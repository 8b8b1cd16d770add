#include "control_command.hpp"

#include "control_client.hpp"
#include "exit_codes.hpp"

#include <iostream>

namespace dirsync::daemon {

std::optional<int> steer_running_daemon(settings::CommandLine const& cl,
                                        std::string const& socket_path)
{
    ControlRequest request{settings::subcommand_name(cl.subcommand), cl.directories, !cl.no_wait};
    auto reply = ask_daemon(socket_path, request);
    if (!reply)
        return std::nullopt;
    (reply->exit_code == exit_ok ? std::cout : std::cerr)
        << (reply->exit_code == exit_ok ? "" : "dirsyncd: ") << reply->message << std::endl;
    return reply->exit_code;
}

sync::OperatorRequest operator_request_of(settings::CommandLine const& cl)
{
    auto const action = sync::parse_operator_action(settings::subcommand_name(cl.subcommand));
    return {action.value_or(sync::OperatorAction::resync), cl.directories};
}

} // namespace dirsync::daemon
