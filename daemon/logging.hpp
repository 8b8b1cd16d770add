// The one logger: to standard output (the journal under systemd), so that standard error carries
// only the final line of a fatal error.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace dirsync::daemon {

// `level` must be valid (settings::is_log_level). Without a timestamp when the output goes to
// journald (JOURNAL_STREAM set), which adds its own.
std::shared_ptr<spdlog::logger> make_logger(std::string const& level);

} // namespace dirsync::daemon
