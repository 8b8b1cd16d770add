// The changes feed in PostgreSQL and its notification: an app that LISTENs hears the highest seq
// of each commit that added rows, once, after the rows are readable; a rollback says nothing.
#include "pg/change_feed.hpp"
#include "pg/schema.hpp"
#include "pg_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

using namespace dirsync;
using namespace std::chrono_literals;

namespace {

class ChangeFeedTest : public test::PgSchemaTest {
protected:
    ChangeFeedTest()
        : writer(test::pg_conninfo())
        , app(test::pg_conninfo())
    {
        pg::migrate_schema(writer, schema);
        pg::use_schema(app, schema);
        app.exec("LISTEN dirsyncd_changes");
    }
    std::vector<pg::Change> batch(int n, std::string const& prefix)
    {
        std::vector<pg::Change> out;
        for (int i = 0; i < n; ++i)
            out.push_back({"directory_1", "user", prefix + std::to_string(i), "upsert"});
        return out;
    }
    pg::Connection writer, app;
};

} // namespace

TEST_F(ChangeFeedTest, ACommitIsHeardOnceWithItsHighestSeqAndItsRowsAreThere)
{
    pg::ChangeFeed feed(writer);
    writer.exec("BEGIN");
    auto const rows = batch(3, "user_\"quoted\\");
    auto const first = feed.record("2026-12-02T10:00:00.000Z", rows);
    auto const second = feed.record("2026-12-02T10:00:00.000Z", batch(2, "user_b"));
    EXPECT_EQ(second, first + 2);
    feed.notify_before_commit();
    EXPECT_FALSE(test::next_notification_from(app, writer.backend_pid(), 200ms).has_value())
        << "heard before the commit";
    writer.exec("COMMIT");

    auto const heard = test::next_notification_from(app, writer.backend_pid(), 5s);
    ASSERT_TRUE(heard.has_value());
    EXPECT_EQ(heard->channel, "dirsyncd_changes");
    EXPECT_EQ(heard->payload, std::to_string(second));
    EXPECT_EQ(heard->sender_pid, writer.backend_pid());
    EXPECT_FALSE(test::next_notification_from(app, writer.backend_pid(), 200ms).has_value())
        << "one notification per commit";

    // Readable as soon as heard, in the batch's order, the values as given.
    auto const feed_rows = app.exec(
        "SELECT seq, entity_id FROM changes WHERE seq <= $1 ORDER BY seq", {heard->payload});
    ASSERT_EQ(feed_rows.rows(), 5);
    EXPECT_EQ(feed_rows.text(0, 1), "user_\"quoted\\0");
    EXPECT_EQ(feed_rows.text(2, 1), "user_\"quoted\\2");
    EXPECT_EQ(feed_rows.integer(4, 0), second);
}

TEST_F(ChangeFeedTest, ARolledBackBatchIsNeverHeardAndItsSeqsAreNotReused)
{
    pg::ChangeFeed feed(writer);
    writer.exec("BEGIN");
    auto const lost = feed.record("2026-12-02T10:00:00Z", batch(4, "user_"));
    feed.notify_before_commit();
    writer.exec("ROLLBACK");
    feed.forget();
    EXPECT_FALSE(test::next_notification_from(app, writer.backend_pid(), 300ms).has_value());

    writer.exec("BEGIN");
    auto const kept = feed.record("2026-12-02T10:00:01Z", batch(1, "user_"));
    feed.notify_before_commit();
    writer.exec("COMMIT");
    EXPECT_GT(kept, lost);
    auto const heard = test::next_notification_from(app, writer.backend_pid(), 5s);
    ASSERT_TRUE(heard.has_value());
    EXPECT_EQ(heard->payload, std::to_string(kept));
    EXPECT_EQ(app.exec("SELECT count(*) FROM changes").integer(0, 0), 1);
}

TEST_F(ChangeFeedTest, ACommitWithoutChangesSaysNothing)
{
    pg::ChangeFeed feed(writer);
    writer.exec("BEGIN");
    feed.record("2026-12-02T10:00:00Z", {});
    feed.notify_before_commit();
    writer.exec("COMMIT");
    EXPECT_FALSE(test::next_notification_from(app, writer.backend_pid(), 300ms).has_value());
}
