// Test helpers: run a coroutine to completion on an io_context; a logger that keeps its lines.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace test {

// Runs `aw` on `ioc` until it completes; rethrows what it threw.
template <class T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw)
{
    auto future = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
    ioc.restart();
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (ioc.run_one() == 0)
            throw std::runtime_error("io_context ran out of work before the coroutine finished");
    }
    return future.get();
}

// A logger whose output the test can read back.
struct CapturedLog {
    std::ostringstream lines;
    std::shared_ptr<spdlog::logger> logger;
    CapturedLog()
    {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(lines);
        logger = std::make_shared<spdlog::logger>("test", sink);
        logger->set_pattern("[%l] %v");
        logger->set_level(spdlog::level::trace);
    }
    std::string text() const { return lines.str(); }
};

} // namespace test
