// Reading the JSON fixtures copied into tests/fixtures.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace test {

inline std::string fixture(std::string const& relative)
{
    std::ifstream in(std::string(DIRSYNC_FIXTURES) + "/" + relative, std::ios::binary);
    if (!in)
        throw std::runtime_error("missing fixture " + relative);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace test
