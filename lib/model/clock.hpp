// The wall clock, in the unit the mirror stores: microseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace dirsync {

inline std::int64_t now_micros()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace dirsync
