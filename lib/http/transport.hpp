// The HTTP seam: what the API client needs from the network, nothing more. API, sync and test code
// see only these structs, never Beast or OpenSSL.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dirsync::http {

struct Request {
    std::string target; // path and query, e.g. "/directory_users?directory=...&limit=100"
    std::vector<std::pair<std::string, std::string>> headers;
};

struct Response {
    unsigned status{};
    std::string body;
    std::string request_id;                 // X-Request-ID, empty when absent
    std::optional<std::string> retry_after; // the Retry-After header as sent
};

// A kept-alive connection the server had closed while it was idle: the request never reached the
// application and may be sent again at once (GET is idempotent). The transport drops its idle
// connections and throws this; the API client sends the request again through its pacing.
class StaleConnection : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Transport {
public:
    virtual ~Transport() = default;
    // Sends a GET and returns the complete response. Network, TLS and timeout failures throw
    // boost::system::system_error; cancellation throws with operation_aborted.
    virtual boost::asio::awaitable<Response> get(Request request) = 0;
};

} // namespace dirsync::http
