// Reading a whole file in a test (fixtures, logs, the database's bytes).
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace test {

// The bytes of the file at `path`; nullopt when it cannot be opened.
inline std::optional<std::string> read_file(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace test
