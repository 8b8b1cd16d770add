// Transport over Boost.Beast: HTTPS (or plain HTTP to loopback), keep-alive connection pool,
// timeouts, response caps.
#pragma once

#include "http/transport.hpp"
#include "model/http_options.hpp"
#include "model/url.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::http {

// Thrown (as a system_error) when the TLS context cannot be set up, e.g. an unreadable CA file.
class BeastTransport final : public Transport {
public:
    // Single-threaded: every call must come from the one thread running the io_context.
    BeastTransport(boost::asio::any_io_executor ex, Url url, TransportOptions options,
                   spdlog::logger& log);
    ~BeastTransport() override;

    boost::asio::awaitable<Response> get(Request request) override;

    // Closes every connection, idle or busy: requests in flight fail at once with
    // operation_aborted, and later ones too. For a shutdown that must not wait for the network.
    void shutdown();

    // Connections opened so far (for tests and statistics).
    std::uint64_t connections_opened() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dirsync::http
