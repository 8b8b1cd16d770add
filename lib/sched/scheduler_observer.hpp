// What the scheduler tells its host: systemd in the daemon, a recorder in tests.
#pragma once

#include <chrono>
#include <string>

namespace dirsync::sched {

class SchedulerObserver {
public:
    virtual ~SchedulerObserver() = default;
    virtual void mirror_ready() = 0;             // the mirror is complete (once)
    virtual void status(std::string const&) = 0; // a one-line summary that changed
    virtual void alive() = 0;                    // the loop made progress (watchdog)
    virtual void first_sync_progress() = 0;      // a page of the first full sync was stored
    // A full sync of every directory was applied (the metrics' histogram).
    virtual void full_sync_finished(std::chrono::duration<double> /*took*/) {}
};

} // namespace dirsync::sched
