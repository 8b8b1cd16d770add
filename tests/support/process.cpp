#include "support/process.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace test {

SpawnArguments::SpawnArguments(std::vector<std::string> const& argv,
                               std::map<std::string, std::string> const& env)
{
    strings_.reserve(argv.size() + env.size());
    for (auto const& a : argv)
        strings_.push_back(a);
    for (auto const& [k, v] : env)
        strings_.push_back(k + "=" + v);
    for (std::size_t i = 0; i < strings_.size(); ++i)
        (i < argv.size() ? args_ : env_).push_back(strings_[i].data());
    args_.push_back(nullptr);
    env_.push_back(nullptr);
}

ProcessResult run_process(std::vector<std::string> const& argv,
                          std::map<std::string, std::string> const& env,
                          std::chrono::seconds timeout)
{
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

    SpawnArguments spawn_args(argv, env);
    pid_t pid = 0;
    int const rc =
        posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, spawn_args.argv(), spawn_args.envp());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0)
        throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));

    ProcessResult result;
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    bool killed = false;
    while (open_fds > 0) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 && !killed) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        int const n =
            ::poll(fds, 2, killed ? 1000 : static_cast<int>(std::max<long>(left.count(), 1)));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t const got = ::read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(got));
            }
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status))
        result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        result.signal = WTERMSIG(status);
    return result;
}

} // namespace test
