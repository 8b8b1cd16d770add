#include "model/listen_address.hpp"

#include <charconv>

namespace dirsync {

bool ListenAddress::loopback() const
{
    return unix_path || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::optional<ListenAddress> parse_listen_address(std::string const& text, std::string& why)
{
    ListenAddress a;
    if (!text.empty() && text.front() == '/') {
        a.unix_path = text;
        return a;
    }
    auto const colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        why = "expected HOST:PORT (e.g. 127.0.0.1:9464) or the absolute path of a Unix socket";
        return std::nullopt;
    }
    a.host = text.substr(0, colon);
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
        a.host = a.host.substr(1, a.host.size() - 2);
    else if (a.host.find(':') != std::string::npos) {
        why = "an IPv6 host goes in brackets: [::1]:9464";
        return std::nullopt;
    }
    auto const port = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
        why = "the port '" + port + "' is not a number from 1 to 65535";
        return std::nullopt;
    }
    a.port = static_cast<std::uint16_t>(value);
    return a;
}

} // namespace dirsync
