// How the HTTP client talks to the API: trust, connections, timeouts, caps.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace dirsync {

struct TransportOptions {
    std::optional<std::string> ca_file; // replaces the system trust store when set
    std::size_t max_connections = 16;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)}; // TCP connect + TLS
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)}; // write + whole response
    std::uint64_t max_response_bytes = 64ull << 20;
    std::uint32_t max_header_bytes = 64u << 10;
};

} // namespace dirsync
