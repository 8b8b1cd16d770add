// Runs a program as a child process with its own environment, capturing stdout and stderr.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace test {

struct ProcessResult {
    int exit_code = -1; // -1 when killed by a signal
    int signal = 0;
    std::string out;
    std::string err;
};

// argv and envp for posix_spawn, valid while this object lives.
class SpawnArguments {
public:
    SpawnArguments(std::vector<std::string> const& argv,
                   std::map<std::string, std::string> const& env);
    char* const* argv() { return args_.data(); }
    char* const* envp() { return env_.data(); }

private:
    std::vector<std::string> strings_;
    std::vector<char*> args_, env_;
};

// Runs `argv` (argv[0] is the program path) with exactly `env`, waits at most `timeout` (then
// SIGKILL) and returns what it printed.
ProcessResult run_process(std::vector<std::string> const& argv,
                          std::map<std::string, std::string> const& env,
                          std::chrono::seconds timeout = std::chrono::seconds(120));

} // namespace test
