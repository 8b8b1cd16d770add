#include "systemd_notifier.hpp"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

namespace dirsync::daemon {
using Clock = std::chrono::steady_clock;

namespace {
// While the first full sync makes progress, each page pushes systemd's start timeout this far.
constexpr std::chrono::seconds start_extension{90};
} // namespace

SystemdNotifier::SystemdNotifier()
{
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_ = std::chrono::microseconds(usec);
}

void SystemdNotifier::send(std::string const& message)
{
    sd_notify(0, message.c_str()); // a no-op without NOTIFY_SOCKET
}

void SystemdNotifier::mirror_ready()
{
    send("READY=1");
}

void SystemdNotifier::status(std::string const& line)
{
    if (line == last_status_)
        return;
    last_status_ = line;
    send("STATUS=" + line);
}

void SystemdNotifier::alive()
{
    if (watchdog_.count() == 0)
        return;
    auto const now = Clock::now();
    if (now - last_ping_ < watchdog_ / 8)
        return;
    last_ping_ = now;
    send("WATCHDOG=1");
}

void SystemdNotifier::first_sync_progress()
{
    alive();
    auto const now = Clock::now();
    if (now - last_extend_ < std::chrono::seconds(5))
        return;
    last_extend_ = now;
    send(fmt::format(
        "EXTEND_TIMEOUT_USEC={}",
        std::chrono::duration_cast<std::chrono::microseconds>(start_extension).count()));
}

void SystemdNotifier::reloading()
{
    send("RELOADING=1");
}
void SystemdNotifier::reloaded()
{
    send("READY=1");
}
void SystemdNotifier::stopping()
{
    send("STOPPING=1");
}

} // namespace dirsync::daemon
