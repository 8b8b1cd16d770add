// The API base URL: parsed once at start-up, checked for what we allow.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dirsync {

struct Url {
    std::string scheme;    // "https" or "http"
    std::string host;      // without brackets for IPv6
    std::string port;      // always set: 443/80 by default
    std::string base_path; // "" or "/prefix" without a trailing slash

    bool is_tls() const { return scheme == "https"; }
};

// Parses "https://host[:port][/path]". Returns nullopt and sets `error` when the URL is not of
// that form, uses another scheme, or asks for plain http to a host that is not loopback.
std::optional<Url> parse_api_url(std::string_view text, std::string& error);

// True for "localhost", 127.0.0.0/8 and ::1.
bool is_loopback_host(std::string_view host);

} // namespace dirsync
