// The current time as the mirror writes it ("2026-03-02T09:15:27.481Z").
#pragma once

#include "decode/timestamp.hpp"
#include "model/clock.hpp"
#include "model/model.hpp"

#include <string>

namespace dirsync::sync {

inline Timestamp now_timestamp()
{
    auto const us = now_micros();
    return {decode::format_timestamp(us), us};
}

inline std::string now_text()
{
    return now_timestamp().text;
}

} // namespace dirsync::sync
