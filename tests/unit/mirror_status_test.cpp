// The public freshness view (mirror_status), the daemon's row behind it, the status report built
// on it, and the README's recipes, each run as written in README.md against a mirror.
#include "store/daemon_status.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"
#include "store/status_report.hpp"
#include "support/files.hpp"
#include "support/model_builders.hpp"
#include "support/temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>

using namespace dirsync;
using namespace dirsync::store;
using test::at;

namespace {

class MirrorStatusTest : public ::testing::Test {
protected:
    test::TempDir dir;
    std::unique_ptr<Database> db = open_database(dir.file("mirror.db"));
    MirrorStore mirror{*db};
    EventStore events{*db};
    DaemonStatus daemon{*db};
    std::string const now = "2026-01-02T00:00:00.000Z";

    // Mirrors a directory of organization `org`: users ana (active), bo (inactive), and the group
    // "SRE" holding both.
    void mirror_directory(std::string const& id, std::string const& org)
    {
        auto d = test::directory(id, "Dir " + id);
        d.organization_id = org;
        mirror.begin_staging(id, at(1));
        auto g = test::group("g_" + id, id, "SRE");
        g.organization_id = org;
        mirror.stage_groups(id, std::vector<Group>{g}, {}, {Phase::users});
        auto ana = test::user("ana_" + id, id, "Ana");
        auto bo = test::user("bo_" + id, id, "Bo");
        bo.state = "inactive";
        for (auto* u : {&ana, &bo}) {
            u->organization_id = org;
            u->embedded_group_ids = {g.id};
        }
        mirror.stage_users(id, std::vector<User>{ana, bo}, {}, MirrorStore::Embedded::stage,
                           {Phase::done});
        mirror.merge_directory(d, {"per_user", 3}, now);
    }

    std::string one(std::string const& sql) { return db->execAndGet(sql).getString(); }
    std::string state_of(std::string const& id)
    {
        SQLite::Statement q(*db, "SELECT state FROM mirror_status WHERE directory_id = ?");
        q.bind(1, id);
        return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
    }
};

// The ```sql block after each "<!-- recipe: NAME -->" in README.md.
std::map<std::string, std::string> readme_recipes()
{
    auto const readme = test::read_file(std::string(DIRSYNC_SOURCE_DIR) + "/README.md").value();
    std::regex const block(R"(<!-- recipe: (\w+) -->\s*```sql\n([\s\S]*?)```)");
    std::map<std::string, std::string> out;
    for (std::sregex_iterator it(readme.begin(), readme.end(), block), end; it != end; ++it)
        out[(*it)[1]] = (*it)[2];
    return out;
}

// Runs a recipe with its named parameters (digits bound as integers, as an app binds a seq); every
// row as "a|b|c".
std::vector<std::string> run_recipe(SQLite::Database& db, std::string const& sql,
                                    std::map<std::string, std::string> const& params)
{
    SQLite::Statement q(db, sql);
    for (auto const& [name, value] : params) {
        if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos)
            q.bind(":" + name, static_cast<std::int64_t>(std::stoll(value)));
        else
            q.bind(":" + name, value);
    }
    std::vector<std::string> rows;
    while (q.executeStep()) {
        std::string row;
        for (int i = 0; i < q.getColumnCount(); ++i)
            row += (i ? "|" : "") + q.getColumn(i).getString();
        rows.push_back(row);
    }
    return rows;
}

} // namespace

TEST_F(MirrorStatusTest, EachDirectoryHasAStateAndTheDaemonRowTheWorstOfThem)
{
    EXPECT_EQ(state_of("*"), "never_synced") << "no directory yet";
    mirror_directory("d1", "org_a");
    mirror_directory("d2", "org_a");
    EXPECT_EQ(state_of("d1"), "ok");
    EXPECT_EQ(state_of("*"), "ok");
    EXPECT_EQ(one("SELECT schema_version FROM mirror_status WHERE directory_id = '*'"),
              std::to_string(latest_schema_version()));
    EXPECT_EQ(one("SELECT last_full_sync_finished_at FROM mirror_status WHERE directory_id = "
                  "'d1'"),
              now);

    mirror.begin_staging("d2", at(9));
    EXPECT_EQ(state_of("d2"), "syncing");
    EXPECT_EQ(one("SELECT last_full_sync_started_at FROM mirror_status WHERE directory_id = "
                  "'d2'"),
              at(9).text);
    EXPECT_EQ(state_of("*"), "syncing");
    mirror.discard_staging("d2");

    mirror.record_error("d3", "GET /directory_users: HTTP 500", now); // never synced, failing
    EXPECT_EQ(state_of("d3"), "failing");
    EXPECT_EQ(state_of("*"), "failing");
    mirror.record_hold("d1", "it would delete 90% of the users", now);
    EXPECT_EQ(state_of("d1"), "held");
    EXPECT_EQ(state_of("*"), "held") << "held outranks failing";
    EXPECT_EQ(one("SELECT held_reason FROM mirror_status WHERE directory_id = 'd1'"),
              "it would delete 90% of the users");

    daemon.stream_failed("GET /events: HTTP 503", now);
    EXPECT_EQ(state_of("*"), "failing") << "the event stream fails the daemon row";
    EXPECT_EQ(one("SELECT last_error FROM mirror_status WHERE directory_id = '*'"),
              "GET /events: HTTP 503");
    daemon.stream_recovered();
    EXPECT_EQ(state_of("*"), "held");

    mirror_directory("d1", "org_a"); // an applied full sync clears the hold
    EXPECT_EQ(state_of("d1"), "ok");
}

TEST_F(MirrorStatusTest, TheFeedBoundsSurviveAnEmptyFeed)
{
    mirror_directory("d1", "org_a");
    auto const max_seq = db->execAndGet("SELECT MAX(seq) FROM changes").getInt64();
    EXPECT_EQ(one("SELECT min_seq || ' ' || max_seq FROM mirror_status WHERE directory_id = '*'"),
              "1 " + std::to_string(max_seq));
    while (events.prune("2999-01-01T00:00:00.000Z", 500) > 0) {
    }
    EXPECT_EQ(db->execAndGet("SELECT COUNT(*) FROM changes").getInt(), 0);
    EXPECT_EQ(one("SELECT min_seq || ' ' || max_seq FROM mirror_status WHERE directory_id = '*'"),
              std::to_string(max_seq + 1) + " " + std::to_string(max_seq));
}

TEST_F(MirrorStatusTest, TheDaemonRowAndTheNewestEventPerDirectory)
{
    mirror_directory("d1", "org_a");
    daemon.started(4242, now, std::chrono::milliseconds(2500), std::chrono::seconds(60));
    EXPECT_EQ(one("SELECT daemon_pid || ' ' || daemon_started_at || ' ' || poll_interval_seconds "
                  "FROM mirror_status WHERE directory_id = '*'"),
              "4242 " + now + " 2.5");
    daemon.caught_up("2026-01-02T00:00:05.000Z");
    EXPECT_EQ(one("SELECT caught_up_at FROM mirror_status WHERE directory_id = 'd1'"),
              "2026-01-02T00:00:05.000Z");

    {
        SQLite::Transaction tx(*db);
        record_event_times(*db,
                           {.per_directory = {{"d1", at(30)}, {"d9", at(40)}}, .latest = at(40)});
        tx.commit();
    }
    EXPECT_EQ(one("SELECT last_event_at FROM mirror_status WHERE directory_id = 'd1'"),
              at(30).text);
    EXPECT_EQ(one("SELECT last_event_at FROM mirror_status WHERE directory_id = '*'"), at(40).text)
        << "the newest of all";

    auto const report = read_status(*db);
    EXPECT_EQ(report.daemon_pid, 4242);
    ASSERT_EQ(report.directories.size(), 2u); // d9 is known from its event
    EXPECT_EQ(report.directories[0].users, 2);
    EXPECT_EQ(report.directories[0].groups, 1);
    EXPECT_EQ(report.directories[0].memberships, 2);
    EXPECT_EQ(report.directories[0].membership_strategy, "per_user");
    EXPECT_EQ(report.directories[1].state, "never_synced");

    daemon.stopped();
    EXPECT_TRUE(
        db->execAndGet("SELECT daemon_pid FROM mirror_status WHERE directory_id = '*'").isNull());
}

TEST_F(MirrorStatusTest, TheStatusReportReadsAReadOnlyConnection)
{
    mirror_directory("d1", "org_a");
    SQLite::Database ro("file:" + dir.file("mirror.db") + "?mode=ro",
                        SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    auto const report = read_status(ro);
    EXPECT_EQ(report.state, "ok");
    ASSERT_EQ(report.directories.size(), 1u);
    EXPECT_EQ(report.directories[0].name, "Dir d1");
}

TEST_F(MirrorStatusTest, TheReadmeRecipesAnswerRight)
{
    auto const recipes = readme_recipes();
    for (char const* name : {"members_by_group_id", "members_by_group_name", "user_active",
                             "changes_since", "fell_behind", "fresh_enough", "held_or_failing"})
        ASSERT_TRUE(recipes.count(name)) << "README.md lost the recipe " << name;

    mirror_directory("d1", "org_a");
    mirror_directory("d2", "org_b");
    auto recipe = [&](std::string const& name, std::map<std::string, std::string> params = {}) {
        return run_recipe(*db, recipes.at(name), params);
    };
    using Rows = std::vector<std::string>;

    EXPECT_EQ(recipe("members_by_group_id", {{"group_id", "g_d1"}}),
              (Rows{"ana_d1|Ana@example.com", "bo_d1|Bo@example.com"}));
    EXPECT_EQ(
        recipe("members_by_group_name", {{"organization_id", "org_b"}, {"group_name", "SRE"}}),
        (Rows{"ana_d2|Ana@example.com", "bo_d2|Bo@example.com"}));
    EXPECT_EQ(
        recipe("members_by_group_name", {{"organization_id", "org_c"}, {"group_name", "SRE"}}),
        Rows{});
    EXPECT_EQ(recipe("user_active", {{"organization_id", "org_a"}, {"email", "ANA@EXAMPLE.COM"}}),
              Rows{"1"});
    EXPECT_EQ(recipe("user_active", {{"organization_id", "org_a"}, {"email", "bo@example.com"}}),
              Rows{"0"})
        << "inactive";
    EXPECT_EQ(recipe("user_active", {{"organization_id", "org_z"}, {"email", "ana@example.com"}}),
              Rows{"0"})
        << "another organization";

    auto const max_seq = db->execAndGet("SELECT MAX(seq) FROM changes").getInt64();
    EXPECT_TRUE(recipe("changes_since", {{"since", std::to_string(max_seq)}}).empty());
    mirror.delete_directory("d2", now);
    auto const since = recipe("changes_since", {{"since", std::to_string(max_seq)}});
    ASSERT_FALSE(since.empty());
    EXPECT_EQ(since.back(), std::to_string(max_seq + static_cast<std::int64_t>(since.size())) +
                                "|d2|directory|d2|delete");

    auto const top = db->execAndGet("SELECT MAX(seq) FROM changes").getInt64();
    EXPECT_EQ(recipe("fell_behind", {{"since", "0"}}), Rows{"0|" + std::to_string(top)});
    while (events.prune("2999-01-01T00:00:00.000Z", 500) > 0) {
    }
    EXPECT_EQ(recipe("fell_behind", {{"since", std::to_string(top)}}),
              Rows{"0|" + std::to_string(top)})
        << "saw everything: an empty feed is no reason to reload";
    EXPECT_EQ(recipe("fell_behind", {{"since", std::to_string(top - 1)}}),
              Rows{"1|" + std::to_string(top)});

    EXPECT_EQ(recipe("fresh_enough"), Rows{"0"}) << "never caught up";
    daemon.started(1, now_text(), std::chrono::seconds(10), std::chrono::seconds(60));
    daemon.caught_up(now_text());
    EXPECT_EQ(recipe("fresh_enough"), Rows{"1"});
    daemon.caught_up(format_timestamp(now_micros() - 31'000'000));
    EXPECT_EQ(recipe("fresh_enough"), Rows{"1"})
        << "31 s ago, with a 10 s poll and a 60 s heartbeat: within a heartbeat";
    daemon.caught_up(format_timestamp(now_micros() - 91'000'000));
    EXPECT_EQ(recipe("fresh_enough"), Rows{"0"}) << "91 s ago: past 3 polls plus a heartbeat";

    EXPECT_EQ(recipe("held_or_failing"), Rows{});
    mirror.record_hold("d1", "it would delete every user", now);
    mirror.record_error("d7", "HTTP 500", now);
    EXPECT_EQ(recipe("held_or_failing"),
              (Rows{"d1|Dir d1|held|it would delete every user", "d7||failing|HTTP 500"}));
}
