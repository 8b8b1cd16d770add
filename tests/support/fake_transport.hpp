// Transports for tests that need no sockets: one that replays a script, one that calls the fake
// WorkOS API in-process.
#pragma once

#include "fake_api.hpp"
#include "http/transport.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <deque>
#include <variant>

namespace test {

// Replays canned responses (or throws canned error codes) and records every request.
class ScriptedTransport : public dirsync::http::Transport {
public:
    using Step = std::variant<dirsync::http::Response, boost::system::error_code>;
    std::deque<Step> script;
    std::vector<dirsync::http::Request> requests;

    void respond(unsigned status, std::string body, std::optional<std::string> retry_after = {})
    {
        script.push_back(dirsync::http::Response{status, std::move(body), "req_test", retry_after});
    }
    void fail(boost::system::error_code ec) { script.push_back(ec); }

    boost::asio::awaitable<dirsync::http::Response> get(dirsync::http::Request request) override
    {
        requests.push_back(request);
        if (script.empty())
            throw std::runtime_error("ScriptedTransport: no response left for " + request.target);
        auto step = std::move(script.front());
        script.pop_front();
        if (auto const* ec = std::get_if<boost::system::error_code>(&step))
            throw boost::system::system_error(*ec);
        co_return std::get<dirsync::http::Response>(step);
    }
};

// Hands each request to a FakeApi directly.
class FakeApiTransport : public dirsync::http::Transport {
public:
    explicit FakeApiTransport(fake::FakeApi& api)
        : api_(api)
    {
    }
    boost::asio::awaitable<dirsync::http::Response> get(dirsync::http::Request request) override
    {
        fake::FakeRequest req{"GET", request.target, {}};
        for (auto const& [name, value] : request.headers) {
            std::string lower = name;
            for (auto& c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers[lower] = value;
        }
        auto res = api_.handle(req);
        dirsync::http::Response out{res.status, std::move(res.body), "", std::nullopt};
        for (auto const& [name, value] : res.headers) {
            if (name == "X-Request-ID")
                out.request_id = value;
            if (name == "Retry-After")
                out.retry_after = value;
        }
        co_return out;
    }

private:
    fake::FakeApi& api_;
};

} // namespace test
