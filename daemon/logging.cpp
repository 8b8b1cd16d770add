#include "logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace dirsync::daemon {

std::shared_ptr<spdlog::logger> make_logger(std::string const& level)
{
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_st>();
    auto log = std::make_shared<spdlog::logger>("dirsyncd", sink);
    if (std::getenv("JOURNAL_STREAM") != nullptr)
        log->set_pattern("[%l] %v");
    else
        log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
    log->set_level(spdlog::level::from_str(level));
    log->flush_on(spdlog::level::trace); // lines reach the journal (or a pipe) as they happen
    return log;
}

} // namespace dirsync::daemon
