// Transport over Boost.Beast: HTTPS (or plain HTTP to loopback), keep-alive connection pool,
// timeouts, response caps.
#pragma once

#include "http/transport.hpp"
#include "http/url.hpp"

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

struct TransportOptions {
    std::optional<std::string> ca_file; // replaces the system trust store when set
    std::size_t max_connections = 8;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)}; // TCP connect + TLS
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)}; // write + whole response
    std::uint64_t max_response_bytes = 64ull << 20;
    std::uint32_t max_header_bytes = 64u << 10;
};

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
