// BeastTransport against the fake server over real TLS: verification, keep-alive, pool bound,
// response cap.
#include "fake_workos.hpp"
#include "http/beast_transport.hpp"
#include "support/run.hpp"
#include "support/test_certs.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

using namespace dirsync;
namespace asio = boost::asio;

namespace {

class TransportTest : public ::testing::Test {
protected:
    asio::io_context ioc;
    test::CapturedLog log;
    std::unique_ptr<fake::FakeWorkos> fake;
    TransportOptions options;

    void start(std::string const& cert = "server")
    {
        fake::FakeOptions o;
        o.rate_limit = false;
        fake = std::make_unique<fake::FakeWorkos>(fake::Dataset::generate({3, 1, 50, 4, 1}), o,
                                                  test::tls(cert));
        options.ca_file = test::cert("ca.pem");
    }
    std::unique_ptr<http::BeastTransport> transport(std::string host = "localhost")
    {
        std::string why;
        auto url = parse_api_url("https://" + host + ":" + std::to_string(fake->port()), why);
        return std::make_unique<http::BeastTransport>(ioc.get_executor(), *url, options,
                                                      *log.logger);
    }
    http::Request request(std::string target = "/directories?limit=100&order=asc")
    {
        auto key = fake->with([](fake::FakeApi& a) { return a.options().api_key; });
        return {std::move(target), {{"Authorization", "Bearer " + key}}};
    }
    std::uint64_t served()
    {
        return fake->with([](fake::FakeApi& a) { return a.stats().total(); });
    }
};

} // namespace

TEST_F(TransportTest, ReusesOneKeepAliveConnectionForSequentialRequests)
{
    start();
    auto t = transport();
    for (int i = 0; i < 10; ++i) {
        auto res = test::run(ioc, t->get(request()));
        EXPECT_EQ(res.status, 200u);
        EXPECT_FALSE(res.request_id.empty());
    }
    EXPECT_EQ(t->connections_opened(), 1u);
}

TEST_F(TransportTest, ConcurrentRequestsStayWithinTheConnectionBound)
{
    start();
    options.max_connections = 2;
    auto t = transport();
    auto many = [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        using Op = decltype(asio::co_spawn(ex, t->get(request()), asio::deferred));
        std::vector<Op> ops;
        for (int i = 0; i < 8; ++i)
            ops.push_back(asio::co_spawn(ex, t->get(request()), asio::deferred));
        auto [order, errors, responses] =
            co_await asio::experimental::make_parallel_group(std::move(ops))
                .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        int ok = 0;
        for (std::size_t i = 0; i < responses.size(); ++i)
            ok += !errors[i] && responses[i].status == 200;
        co_return ok;
    };
    EXPECT_EQ(test::run(ioc, many()), 8);
    EXPECT_LE(t->connections_opened(), 2u);
}

TEST_F(TransportTest, ResponseLargerThanTheCapIsRefused)
{
    start();
    options.max_response_bytes = 1024;
    auto t = transport();
    auto const dir =
        fake->with([](fake::FakeApi& a) { return a.dataset().directories().begin()->first; });
    EXPECT_THROW(
        test::run(ioc, t->get(request("/directory_users?directory=" + dir + "&limit=100"))),
        boost::system::system_error);
}

TEST_F(TransportTest, HostNameMismatchIsRefused)
{
    start("other-host");
    auto t = transport();
    try {
        test::run(ioc, t->get(request()));
        FAIL();
    } catch (boost::system::system_error const& e) {
        EXPECT_NE(e.code().message().find("certificate verify failed"), std::string::npos)
            << e.code().message();
    }
    EXPECT_EQ(served(), 0u);
}

TEST_F(TransportTest, IpAddressMustBeInTheCertificate)
{
    start();
    auto t = transport("127.0.0.1"); // the server certificate lists IP:127.0.0.1
    EXPECT_EQ(test::run(ioc, t->get(request())).status, 200u);
}

TEST_F(TransportTest, UntrustedAndExpiredCertificatesAreRefused)
{
    for (auto const* cert : {"untrusted", "expired"}) {
        start(cert);
        auto t = transport();
        EXPECT_THROW(test::run(ioc, t->get(request())), boost::system::system_error) << cert;
        EXPECT_EQ(served(), 0u) << cert;
    }
}

TEST_F(TransportTest, UnreadableCaFileFailsAtConstruction)
{
    start();
    options.ca_file = "/nonexistent/ca.pem";
    EXPECT_THROW(transport(), boost::system::system_error);
}
