// A transport that fails after a budget of requests: an interrupted sync, for the tests of
// resuming one (either database).
#pragma once

#include "http/transport.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace test {

// Lets `budget` requests through to `inner`, then fails every request with a reset.
class FailingAfter : public dirsync::http::Transport {
public:
    FailingAfter(dirsync::http::Transport& inner, int budget)
        : inner_(inner)
        , budget_(budget)
    {
    }
    boost::asio::awaitable<dirsync::http::Response> get(dirsync::http::Request request) override
    {
        if (budget_-- <= 0)
            throw boost::system::system_error(boost::asio::error::connection_reset);
        co_return co_await inner_.get(std::move(request));
    }
    int budget_left() const { return budget_; }

private:
    dirsync::http::Transport& inner_;
    int budget_;
};

} // namespace test
