#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace dirsync::daemon {
namespace {

// "<N>" with the syslog priority of the line's level: journald reads it from the start of each
// line of a service's output (SyslogLevelPrefix=), so `journalctl -p warning` sees warnings.
class JournalPriority final : public spdlog::custom_flag_formatter {
public:
    void format(spdlog::details::log_msg const& msg, std::tm const&,
                spdlog::memory_buf_t& dest) override
    {
        auto const text = prefix(msg.level);
        dest.append(text, text + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override
    {
        return std::make_unique<JournalPriority>();
    }

private:
    static char const* prefix(spdlog::level::level_enum level)
    {
        switch (level) {
        case spdlog::level::critical:
            return "<2>"; // crit
        case spdlog::level::err:
            return "<3>";
        case spdlog::level::warn:
            return "<4>";
        case spdlog::level::info:
            return "<6>";
        default:
            return "<7>"; // debug, trace
        }
    }
};

} // namespace

std::shared_ptr<spdlog::logger> make_logger(std::string const& level, bool to_stderr)
{
    spdlog::sink_ptr sink;
    if (to_stderr)
        sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    else
        sink = std::make_shared<spdlog::sinks::stdout_sink_st>();
    auto log = std::make_shared<spdlog::logger>("dirsyncd", sink);
    if (std::getenv("JOURNAL_STREAM") != nullptr) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<JournalPriority>('*').set_pattern("%*[%l] %v");
        log->set_formatter(std::move(formatter));
    } else {
        log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
    }
    log->set_level(spdlog::level::from_str(level));
    log->flush_on(spdlog::level::trace); // lines reach the journal (or a pipe) as they happen
    return log;
}

} // namespace dirsync::daemon
