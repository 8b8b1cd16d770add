// A child process that runs while the test goes on (the daemon): its output goes to a file the
// test can read at any time.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace test {

class BackgroundProcess {
public:
    BackgroundProcess(std::vector<std::string> const& argv,
                      std::map<std::string, std::string> const& env, std::string output_file);
    ~BackgroundProcess(); // SIGKILL if still running
    BackgroundProcess(BackgroundProcess const&) = delete;
    BackgroundProcess& operator=(BackgroundProcess const&) = delete;

    int pid() const { return pid_; }
    void signal(int signo);
    // The exit code once it has exited within `timeout` (-1: killed by a signal); nullopt if it
    // is still running.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    std::string output() const; // stdout and stderr so far
    bool running();

private:
    int pid_ = -1;
    std::optional<int> exit_code_;
    std::string output_file_;
};

// Polls `done` every 50 ms until it returns true or `timeout` passes; returns its last answer.
template <class F>
bool eventually(F&& done, std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done())
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        struct timespec ts {
            0, 50 * 1000 * 1000
        };
        nanosleep(&ts, nullptr);
    }
}

} // namespace test
