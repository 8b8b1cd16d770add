// Where the metrics endpoint listens: "HOST:PORT" ("127.0.0.1:9464", "[::1]:9464",
// "localhost:9464") or the path of a Unix socket ("/run/dirsyncd/metrics.sock").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dirsync {

struct ListenAddress {
    std::optional<std::string> unix_path; // set for a Unix socket; else host and port
    std::string host;
    std::uint16_t port = 0;
    bool loopback() const; // a Unix socket counts as loopback
};

// nullopt with `why` set when the text is neither form.
std::optional<ListenAddress> parse_listen_address(std::string const& text, std::string& why);

} // namespace dirsync
