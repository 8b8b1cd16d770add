// A small HTTP/1.1 server on the daemon's io_context for GET /metrics and GET /healthz, on TCP
// (loopback unless the operator allows more) or a Unix socket. One request per connection.
#pragma once

#include "model/listen_address.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::daemon {

struct HttpAnswer {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};
using HttpHandler = std::function<HttpAnswer(std::string const& target)>;

class MetricsServer {
public:
    // Binds now: throws std::runtime_error naming the address when it cannot listen.
    MetricsServer(boost::asio::any_io_executor ex, ListenAddress const& address,
                  HttpHandler handler, spdlog::logger& log);
    ~MetricsServer();
    void start();
    void stop(); // closes the listener; a request in flight finishes
    std::string where() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dirsync::daemon
