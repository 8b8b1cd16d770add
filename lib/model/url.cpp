#include "model/url.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstring>

namespace dirsync {

bool is_loopback_host(std::string_view host)
{
    if (host == "localhost" || host == "localhost.")
        return true;
    std::string const text(host);
    unsigned char v4[4];
    if (::inet_pton(AF_INET, text.c_str(), v4) == 1)
        return v4[0] == 127;
    unsigned char v6[16];
    static constexpr unsigned char loopback_v6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
    return ::inet_pton(AF_INET6, text.c_str(), v6) == 1 &&
           std::memcmp(v6, loopback_v6, sizeof v6) == 0;
}

std::optional<Url> parse_api_url(std::string_view text, std::string& error)
{
    Url url;
    auto const sep = text.find("://");
    if (sep == std::string_view::npos) {
        error = "expected https://host[:port]";
        return std::nullopt;
    }
    url.scheme = std::string(text.substr(0, sep));
    std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (url.scheme != "https" && url.scheme != "http") {
        error = "scheme '" + url.scheme + "' is not supported (use https)";
        return std::nullopt;
    }
    auto rest = text.substr(sep + 3);
    auto const slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        url.base_path = std::string(rest.substr(slash));
        while (!url.base_path.empty() && url.base_path.back() == '/')
            url.base_path.pop_back();
        if (url.base_path.find_first_of("?# ") != std::string::npos) {
            error = "the URL must not have a query, fragment or spaces";
            return std::nullopt;
        }
    }
    if (authority.find('@') != std::string_view::npos) {
        error = "credentials in the URL are not supported";
        return std::nullopt;
    }
    if (!authority.empty() && authority.front() == '[') {
        auto const close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "unterminated IPv6 address";
            return std::nullopt;
        }
        url.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                error = "unexpected text after the IPv6 address";
                return std::nullopt;
            }
            url.port = std::string(after.substr(1));
        }
    } else {
        auto const colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            url.port = std::string(authority.substr(colon + 1));
    }
    if (url.host.empty()) {
        error = "the URL has no host";
        return std::nullopt;
    }
    if (url.port.empty())
        url.port = url.is_tls() ? "443" : "80";
    if (!std::all_of(url.port.begin(), url.port.end(),
                     [](unsigned char c) { return std::isdigit(c); }) ||
        url.port.size() > 5 || std::stoul(url.port) == 0 || std::stoul(url.port) > 65535) {
        error = "port '" + url.port + "' is not a number from 1 to 65535";
        return std::nullopt;
    }
    if (!url.is_tls() && !is_loopback_host(url.host)) {
        error = "plain http is only allowed to a loopback host; use https";
        return std::nullopt;
    }
    return url;
}

} // namespace dirsync
