// The daemon's end of the control channel (control_protocol.hpp): accepts on the Unix socket,
// checks who is asking, hands the request to the handler and writes its reply.
#pragma once

#include "control_protocol.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

using ControlHandler = std::function<boost::asio::awaitable<ControlReply>(ControlRequest)>;

class ControlServer {
public:
    // Binds now (replacing a socket a dead daemon left), mode 0600; throws std::runtime_error
    // naming the path when it cannot, or when a live daemon accepts on it.
    ControlServer(boost::asio::any_io_executor ex, std::string path, ControlHandler handler,
                  spdlog::logger& log);
    ~ControlServer(); // closes and removes the socket
    ControlServer(ControlServer const&) = delete;
    ControlServer& operator=(ControlServer const&) = delete;
    void start(); // accepts until stop()
    void stop();
    std::string const& path() const;

private:
    static bool in_use(std::string const& path);
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

} // namespace dirsync::daemon
