#include "support/background_process.hpp"

#include "support/files.hpp"
#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace test {

BackgroundProcess::BackgroundProcess(std::vector<std::string> const& argv,
                                     std::map<std::string, std::string> const& env,
                                     std::string output_file)
    : output_file_(std::move(output_file))
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    SpawnArguments spawn_args(argv, env);
    int const rc = posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, spawn_args.argv(),
                               spawn_args.envp());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error("posix_spawn failed for " + argv[0]);
}

BackgroundProcess::~BackgroundProcess()
{
    if (running()) {
        ::kill(pid_, SIGKILL);
        wait(std::chrono::seconds(5));
    }
}

void BackgroundProcess::signal(int signo)
{
    if (!exit_code_)
        ::kill(pid_, signo);
}

bool BackgroundProcess::running()
{
    return !wait(std::chrono::milliseconds(0)).has_value();
}

std::optional<int> BackgroundProcess::wait(std::chrono::milliseconds timeout)
{
    if (exit_code_)
        return exit_code_;
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t const r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        struct timespec ts {
            0, 10 * 1000 * 1000
        };
        nanosleep(&ts, nullptr);
    }
}

std::string BackgroundProcess::output() const
{
    return read_file(output_file_).value_or("");
}

} // namespace test
