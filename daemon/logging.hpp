// The one logger: to standard output (the journal under systemd), so that standard error carries
// only the final line of a fatal error.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace dirsync::daemon {

// `level` must be valid (settings::is_log_level). When the output goes to journald
// (JOURNAL_STREAM set): no timestamp (it adds its own), and every line starts with its syslog
// priority, "<N>" (2 critical, 3 error, 4 warning, 6 info, 7 debug and trace).
// `to_stderr`: for commands whose standard output is their result (the dry run).
std::shared_ptr<spdlog::logger> make_logger(std::string const& level, bool to_stderr = false);

} // namespace dirsync::daemon
