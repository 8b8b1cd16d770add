// Tells systemd how the daemon is doing (sd_notify): READY=1, STATUS=, WATCHDOG=1,
// EXTEND_TIMEOUT_USEC=, RELOADING=1, STOPPING=1. Silent without NOTIFY_SOCKET.
#pragma once

#include "sched/scheduler_observer.hpp"

#include <chrono>
#include <string>

namespace dirsync::daemon {

class SystemdNotifier final : public sched::SchedulerObserver {
public:
    SystemdNotifier();

    void mirror_ready() override;
    void status(std::string const& line) override;
    void alive() override;
    void first_sync_progress() override;

    void reloading();
    void reloaded();
    void stopping();

private:
    void send(std::string const& message);

    std::chrono::microseconds watchdog_{0}; // 0: no watchdog configured
    std::chrono::steady_clock::time_point last_ping_{};
    std::chrono::steady_clock::time_point last_extend_{};
    std::string last_status_;
};

} // namespace dirsync::daemon
