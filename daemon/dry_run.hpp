// `dirsyncd --once --dry-run [--json] [DIRECTORY_ID...]`: a full sync into a scratch copy of the
// mirror, then what it changed there, per directory. The mirror itself is only read (an online
// backup), so it works while the daemon runs, and apps see nothing of it.
#pragma once

#include "api/api_client.hpp"
#include "settings/settings.hpp"

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

namespace dirsync::daemon {

// Prints the report to standard output (text, or one JSON document); logs go to the logger.
// Exit 0, 1 when a directory could not be listed, or what --once returns for a failure of the
// whole run (3 key rejected, 4 unreachable, 5 database).
int run_dry_run(boost::asio::io_context& ioc, api::ApiClient& api, spdlog::logger& log,
                settings::Settings const& settings, std::vector<std::string> const& directories,
                bool json);

} // namespace dirsync::daemon
