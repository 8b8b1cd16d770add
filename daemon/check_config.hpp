// `dirsyncd check-config [--online]`: the config and the API key checked as the daemon would
// read them (ExecReload runs it first, so that `systemctl reload` refuses a broken config), and
// with --online one authenticated request that tells the key's scope.
#pragma once

#include "model/url.hpp"
#include "settings/settings.hpp"

#include <optional>
#include <string>

namespace dirsync::daemon {

// The config was loaded and the key resolved already (their errors exit 2 before this).
// Returns the exit code: 0, or with --online 3 (key rejected), 4 (unreachable), 1.
int check_config(settings::Settings const& settings, std::optional<std::string> const& config,
                 Url const& url, std::string const& api_key, bool online);

} // namespace dirsync::daemon
