#include "api/api_client.hpp"
#include "support/fake_transport.hpp"
#include "support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <gtest/gtest.h>

using namespace dirsync;
using namespace dirsync::api;
using namespace std::chrono_literals;

namespace {

constexpr char const* key = "sk_test_secret_key_value";

std::string const empty_users = R"({"data":[],"list_metadata":{"after":null}})";

class ApiClientTest : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    test::ScriptedTransport transport;
    RateLimiter limiter{ioc.get_executor(), RateLimits{1000, 1000}};
    test::CapturedLog log;
    RetryPolicy retry{3, 1ms, 4ms, 60000ms};
    ApiClient api{
        ioc.get_executor(), transport, limiter, {key, "dirsyncd/test", retry}, *log.logger};

    Page<User> list_users(std::optional<std::string> after = {})
    {
        return test::run(ioc, api.list_users(UserFilter::directory, "directory_1", "directory_1",
                                             std::move(after)));
    }
};

} // namespace

TEST_F(ApiClientTest, SendsAuthAgentAndPagingParameters)
{
    transport.respond(200, empty_users);
    list_users("directory_user_01");
    ASSERT_EQ(transport.requests.size(), 1u);
    auto const& r = transport.requests[0];
    EXPECT_EQ(r.target,
              "/directory_users?directory=directory_1&limit=100&order=asc&after=directory_user_01");
    auto header = [&](std::string const& name) {
        for (auto const& [n, v] : r.headers)
            if (n == name)
                return v;
        return std::string();
    };
    EXPECT_EQ(header("Authorization"), std::string("Bearer ") + key);
    EXPECT_EQ(header("User-Agent"), "dirsyncd/test");
    EXPECT_EQ(header("Accept"), "application/json");
}

TEST_F(ApiClientTest, RetriesServerErrorsThenSucceeds)
{
    transport.respond(503, "<html>busy</html>");
    transport.respond(502, "");
    transport.respond(200, empty_users);
    list_users();
    EXPECT_EQ(transport.requests.size(), 3u);
    EXPECT_EQ(api.stats().retries, 2u);
    EXPECT_NE(log.text().find("HTTP 503"), std::string::npos);
    EXPECT_NE(log.text().find("X-Request-ID req_test"), std::string::npos);
}

TEST_F(ApiClientTest, HonoursRetryAfterOn429)
{
    transport.respond(429, "\"Ratelimited\"", "0");
    transport.respond(200, empty_users);
    list_users();
    EXPECT_EQ(transport.requests.size(), 2u);
    EXPECT_EQ(api.stats().throttled[static_cast<std::size_t>(Endpoint::list_users)], 1u);
    EXPECT_NE(log.text().find("retrying in 0 ms"), std::string::npos) << log.text();
}

TEST_F(ApiClientTest, GivesUpAfterMaxAttempts)
{
    for (int i = 0; i < 3; ++i)
        transport.respond(500, R"({"message":"boom"})");
    try {
        list_users();
        FAIL();
    } catch (ApiError const& e) {
        EXPECT_EQ(e.status(), 500u);
        EXPECT_NE(std::string(e.what()).find("after 3 attempts"), std::string::npos) << e.what();
    }
    EXPECT_EQ(transport.requests.size(), 3u);
}

TEST_F(ApiClientTest, NeverRetriesClientErrors)
{
    for (unsigned status : {400u, 401u, 403u, 422u}) {
        transport.requests.clear();
        transport.respond(status, R"({"message":"no","code":"nope"})");
        try {
            list_users();
            FAIL() << status;
        } catch (ApiError const& e) {
            EXPECT_EQ(e.status(), status);
            EXPECT_EQ(e.code(), "nope");
            EXPECT_EQ(e.is_auth_failure(), status == 401);
            EXPECT_EQ(std::string(e.what()).find(key), std::string::npos);
        }
        EXPECT_EQ(transport.requests.size(), 1u) << status;
    }
}

TEST_F(ApiClientTest, NotFoundDirectoryIsNullopt)
{
    transport.respond(404, R"({"message":"Directory not found","code":"entity_not_found"})");
    EXPECT_FALSE(test::run(ioc, api.get_directory("directory_gone")));
    EXPECT_EQ(transport.requests[0].target, "/directories/directory_gone");
}

TEST_F(ApiClientTest, ConnectionErrorsAreRetriedThenReported)
{
    for (int i = 0; i < 3; ++i)
        transport.fail(boost::asio::error::connection_refused);
    try {
        list_users();
        FAIL();
    } catch (TransportError const& e) {
        EXPECT_EQ(e.kind(), TransportError::Kind::network);
        EXPECT_NE(std::string(e.what()).find("after 3 attempts"), std::string::npos);
    }
}

TEST_F(ApiClientTest, MalformedBodyIsRetriedAndThenAProtocolError)
{
    transport.respond(200, R"({"data":[{"id":)");
    transport.respond(200, empty_users);
    EXPECT_NO_THROW(list_users());
    for (int i = 0; i < 3; ++i)
        transport.respond(200, R"({"data":"oops","list_metadata":{}})");
    try {
        list_users();
        FAIL();
    } catch (TransportError const& e) {
        EXPECT_EQ(e.kind(), TransportError::Kind::protocol);
        EXPECT_NE(std::string(e.what()).find("$.data"), std::string::npos);
    }
}

TEST_F(ApiClientTest, TheKeyNeverReachesTheLog)
{
    transport.respond(500, "err");
    transport.respond(401, R"({"message":"Unauthorized"})");
    EXPECT_THROW(list_users(), ApiError);
    EXPECT_EQ(log.text().find(key), std::string::npos);
}

TEST_F(ApiClientTest, AMalformedEventsBodyIsRetriedLikeAListBody)
{
    transport.respond(200, "<html>proxy error page</html>");
    transport.respond(200, R"({"object":"list","data":[],"list_metadata":{"after":null}})");
    auto page = test::run(ioc, api.list_events({{"dsync.user.created"}, {}, {}, {}}));
    EXPECT_TRUE(page.items.empty());
    ASSERT_EQ(transport.requests.size(), 2u);
    EXPECT_EQ(transport.requests[0].target, transport.requests[1].target);
    EXPECT_NE(log.text().find("malformed response"), std::string::npos);
}

TEST_F(ApiClientTest, AnAbortedRequestIsNeitherRetriedNorLogged)
{
    transport.fail(boost::asio::error::operation_aborted);
    try {
        list_users();
        FAIL() << "expected operation_aborted";
    } catch (boost::system::system_error const& e) {
        EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
    }
    EXPECT_EQ(transport.requests.size(), 1u);
    EXPECT_EQ(log.text().find("retrying"), std::string::npos) << log.text();
}

TEST_F(ApiClientTest, CancellingACallWaitingOutItsBackoffEndsItAtOnce)
{
    RetryPolicy slow{5, 60s, 60s, 60s};
    ApiClient patient{
        ioc.get_executor(), transport, limiter, {key, "dirsyncd/test", slow}, *log.logger};
    transport.respond(503, "busy");
    boost::asio::cancellation_signal cancel;
    auto done = boost::asio::co_spawn(
        ioc, patient.list_users(UserFilter::directory, "directory_1", "directory_1", {}),
        boost::asio::bind_cancellation_slot(cancel.slot(), boost::asio::use_future));
    while (transport.requests.empty())
        ioc.run_one();
    ioc.poll(); // now waiting out the 60 s backoff
    auto const started = std::chrono::steady_clock::now();
    cancel.emit(boost::asio::cancellation_type::terminal);
    while (done.wait_for(0s) != std::future_status::ready)
        ioc.run_one();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    try {
        done.get();
        FAIL() << "expected operation_aborted";
    } catch (boost::system::system_error const& e) {
        EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
    }
    EXPECT_EQ(transport.requests.size(), 1u);
}

TEST(UrlEncode, EncodesReservedCharacters)
{
    EXPECT_EQ(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    EXPECT_EQ(url_encode("directory_01ABC-_.~"), "directory_01ABC-_.~");
}
