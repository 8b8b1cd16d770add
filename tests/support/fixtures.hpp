// Reading the JSON fixtures copied into tests/fixtures.
#pragma once

#include "support/files.hpp"

#include <stdexcept>
#include <string>

namespace test {

inline std::string fixture(std::string const& relative)
{
    auto text = read_file(std::string(DIRSYNC_FIXTURES) + "/" + relative);
    if (!text)
        throw std::runtime_error("missing fixture " + relative);
    return std::move(*text);
}

} // namespace test
