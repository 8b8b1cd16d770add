// The scheduler's three loops on one io_context against the in-process fake, without the real
// binary: the first sync, READY, events, a requested resync, each loop's own last error, and a
// stop by cancellation.
#include "fake_api.hpp"
#include "sched/scheduler.hpp"
#include "store/daemon_status.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"
#include "support/fake_transport.hpp"
#include "support/mirror_compare.hpp"
#include "support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <gtest/gtest.h>

using namespace dirsync;
using namespace std::chrono_literals;

namespace {

class RecordingObserver : public sched::SchedulerObserver {
public:
    int ready = 0, alive_count = 0;
    std::string last_status;
    void mirror_ready() override { ++ready; }
    void status(std::string const& line) override { last_status = line; }
    void alive() override { ++alive_count; }
    void first_sync_progress() override {}
};

// The fake, with switches that break one endpoint at a time.
class Switchboard : public http::Transport {
public:
    explicit Switchboard(fake::FakeApi& api)
        : inner_(api)
    {
    }
    bool fail_events = false, fail_directories = false;
    boost::asio::awaitable<http::Response> get(http::Request request) override
    {
        bool const events = request.target.rfind("/events", 0) == 0;
        bool const directories = request.target.rfind("/directories?", 0) == 0;
        if ((events && fail_events) || (directories && fail_directories))
            throw boost::system::system_error(boost::asio::error::connection_reset);
        co_return co_await inner_.get(std::move(request));
    }

private:
    test::FakeApiTransport inner_;
};

fake::FakeOptions unlimited()
{
    fake::FakeOptions o;
    o.rate_limit = false;
    return o;
}

sched::SchedulerOptions fast()
{
    sched::SchedulerOptions o;
    o.poll_interval = 20ms;
    o.failure_backoff = {0, 10ms, 40ms, {}};
    o.housekeeping_interval = std::chrono::hours(1);
    return o;
}

class SchedulerLoopsTest : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    fake::FakeApi fake{fake::Dataset::generate({7, 2, 40, 6, 2}), unlimited()};
    Switchboard transport{fake};
    api::RateLimiter limiter{ioc.get_executor(), RateLimits{1000, 1000}};
    test::CapturedLog log;
    std::unique_ptr<store::Database> db = store::open_database(":memory:");
    store::MirrorStore mirror{*db};
    store::EventStore events{*db};
    api::ApiClient api{ioc.get_executor(),
                       transport,
                       limiter,
                       {fake.options().api_key, "test", {1, 1ms, 1ms, 1ms}},
                       *log.logger};
    RecordingObserver observer;
    store::DaemonStatus status{*db};
    sched::Scheduler scheduler{
        ioc.get_executor(), {api, mirror, *log.logger}, events, status, fast(), observer};
    boost::asio::cancellation_signal cancel;
    std::future<void> running;

    void start()
    {
        running = boost::asio::co_spawn(
            ioc, scheduler.run(),
            boost::asio::bind_cancellation_slot(cancel.slot(), boost::asio::use_future));
    }
    template <class F>
    bool run_until(F done, std::chrono::seconds timeout = 10s)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            ioc.run_one_for(10ms);
        }
        return true;
    }
    std::uint64_t requests(std::string const& route)
    {
        auto const& r = fake.stats().requests;
        return r.count(route) ? r.at(route) : 0;
    }
    bool status_has(std::string const& text)
    {
        return observer.last_status.find(text) != std::string::npos;
    }
    void TearDown() override
    {
        if (!running.valid())
            return;
        cancel.emit(boost::asio::cancellation_type::terminal);
        ASSERT_TRUE(
            run_until([&] { return running.wait_for(0s) == std::future_status::ready; }, 5s));
        try {
            running.get();
            ADD_FAILURE() << "Scheduler::run returned instead of throwing operation_aborted";
        } catch (boost::system::system_error const& e) {
            EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
        }
    }
};

} // namespace

TEST_F(SchedulerLoopsTest, FirstSyncMakesTheMirrorReadyThenEventsFlow)
{
    start();
    ASSERT_TRUE(run_until([&] { return observer.ready == 1; })) << log.text();
    EXPECT_EQ(test::mirror_differences(*db, fake.dataset()), std::vector<std::string>{});
    EXPECT_TRUE(status_has("mirror ready")) << observer.last_status;

    auto const user = *fake.dataset().users().begin();
    fake.dataset().update_user(user.first, "Renamed");
    ASSERT_TRUE(run_until([&] { return test::mirror_differences(*db, fake.dataset()).empty(); }))
        << log.text();
    EXPECT_GT(requests("GET /events"), 0u);
    EXPECT_EQ(observer.ready, 1) << "READY once";
    EXPECT_GT(observer.alive_count, 0);
}

TEST_F(SchedulerLoopsTest, ARequestedResyncListsTheDirectoriesAgain)
{
    start();
    ASSERT_TRUE(run_until([&] { return observer.ready == 1; }));
    auto const before = requests("GET /directories");
    scheduler.request_full_resync("test");
    ASSERT_TRUE(run_until([&] { return requests("GET /directories") > before; }));
    ASSERT_TRUE(run_until([&] { return status_has("last finished"); }));
}

TEST_F(SchedulerLoopsTest, EachLoopKeepsItsOwnLastError)
{
    start();
    ASSERT_TRUE(run_until([&] { return observer.ready == 1; }));

    transport.fail_events = true;
    ASSERT_TRUE(run_until([&] { return status_has("last poll error"); })) << observer.last_status;
    transport.fail_events = false;
    ASSERT_TRUE(run_until([&] { return !status_has("last poll error"); })) << observer.last_status;

    transport.fail_directories = true;
    scheduler.request_full_resync("test");
    ASSERT_TRUE(run_until([&] { return status_has("last sync error"); })) << observer.last_status;
    // polls go on and succeed; they do not clear the failed sync's error
    auto const polls = requests("GET /events");
    ASSERT_TRUE(run_until([&] { return requests("GET /events") > polls + 2; }));
    EXPECT_TRUE(status_has("last sync error")) << observer.last_status;
    EXPECT_FALSE(status_has("last poll error")) << observer.last_status;

    transport.fail_directories = false; // the retry after the backoff succeeds
    ASSERT_TRUE(run_until([&] { return !status_has("last sync error"); })) << observer.last_status;
}
