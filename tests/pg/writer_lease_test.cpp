// The writer lease: one writer per schema, and a standby takes over when the writer's session
// ends: closed (the process killed), ended by the server (the host cut off), or gone idle past
// the timeout (the process paused). The old writer then knows it is no longer the writer.
#include "pg/writer_lease.hpp"
#include "pg_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

using namespace dirsync;
using namespace std::chrono_literals;

namespace {

class WriterLeaseTest : public test::PgSchemaTest {
protected:
    struct Daemon {
        pg::Connection db{test::pg_conninfo()};
        pg::WriterLease lease;
        Daemon(std::string const& schema, std::chrono::milliseconds idle = 30s)
            : lease(db, schema, idle)
        {
        }
    };
};

} // namespace

TEST_F(WriterLeaseTest, OneWriterPerSchemaAndTheOthersAreStandbys)
{
    Daemon a(schema), b(schema), other(schema + "_other");
    EXPECT_TRUE(a.lease.try_acquire());
    EXPECT_FALSE(b.lease.try_acquire());
    EXPECT_TRUE(a.lease.try_acquire()); // already held: still ours
    EXPECT_TRUE(a.lease.confirm());
    EXPECT_FALSE(b.lease.confirm());
    EXPECT_TRUE(other.lease.try_acquire()); // another schema, another lock
    EXPECT_NE(pg::WriterLease::key(a.db, schema), pg::WriterLease::key(a.db, schema + "_other"));
}

TEST_F(WriterLeaseTest, AStandbyTakesOverWhenTheWritersSessionCloses)
{
    auto a = std::make_unique<Daemon>(schema);
    Daemon b(schema);
    ASSERT_TRUE(a->lease.try_acquire());
    ASSERT_FALSE(b.lease.try_acquire());
    a.reset(); // kill -9 closes the socket; the server ends the session at once
    bool taken = false;
    for (int i = 0; i < 50 && !taken; ++i) {
        taken = b.lease.try_acquire();
        if (!taken)
            std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(taken);
}

TEST_F(WriterLeaseTest, AWriterWhoseSessionTheServerEndedKnowsItIsNoLongerTheWriter)
{
    Daemon a(schema), b(schema);
    ASSERT_TRUE(a.lease.try_acquire());
    pg::Connection admin(test::pg_conninfo());
    admin.exec("SELECT pg_terminate_backend($1)", {std::to_string(a.db.backend_pid())});
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(b.lease.try_acquire());
    EXPECT_FALSE(a.lease.confirm());
    EXPECT_FALSE(a.lease.held());
    EXPECT_FALSE(a.db.alive());
}

TEST_F(WriterLeaseTest, APausedWritersIdleSessionIsEndedAndAStandbyTakesOver)
{
    Daemon a(schema, 500ms), b(schema, 500ms);
    ASSERT_TRUE(a.lease.try_acquire());
    // A writer that confirms more often than the timeout keeps the lock...
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(200ms);
        ASSERT_TRUE(a.lease.confirm());
        ASSERT_FALSE(b.lease.try_acquire());
    }
    // ... and one that stops (SIGSTOP: no statement runs) loses it to the standby.
    bool taken = false;
    auto const paused = std::chrono::steady_clock::now();
    while (!taken && std::chrono::steady_clock::now() - paused < 5s) {
        std::this_thread::sleep_for(100ms);
        taken = b.lease.try_acquire();
    }
    EXPECT_TRUE(taken);
    EXPECT_LT(std::chrono::steady_clock::now() - paused, 2s);
    EXPECT_FALSE(a.lease.confirm()); // it wakes up a standby, whatever it was doing
}

TEST_F(WriterLeaseTest, AReleasedLeaseGoesToTheNextTry)
{
    Daemon a(schema), b(schema);
    ASSERT_TRUE(a.lease.try_acquire());
    a.lease.release();
    EXPECT_FALSE(a.lease.held());
    EXPECT_TRUE(b.lease.try_acquire());
    EXPECT_FALSE(a.lease.try_acquire());
    EXPECT_TRUE(a.db.alive());
}
