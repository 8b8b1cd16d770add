// `dirsyncd --once --dry-run [--json] [DIRECTORY_ID...]` with the real binary: what a sync would
// add, update and delete, held deletions included, while nothing the apps see changes, with the
// daemon running and not.
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <csignal>

using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

class DryRunTest : public test::DaemonFixture {
protected:
    void SetUp() override { start_fake({33, 3, 40, 5, 2}); }

    test::ProcessResult run(std::vector<std::string> args)
    {
        std::vector<std::string> argv{DIRSYNCD_BINARY,     "--db",      db_path,
                                      "--api-url",         fake->url(), "--ca-file",
                                      test::cert("ca.pem")};
        argv.insert(argv.end(), args.begin(), args.end());
        return test::run_process(
            argv,
            {{"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}});
    }

    // Every row of every table the apps read, in order: the mirror as they see it.
    std::string contract_rows()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        std::string out;
        for (char const* table : {"directories", "users", "groups", "memberships", "changes",
                                  "sync_state", "event_stream", "daemon_status", "tombstones"}) {
            SQLite::Statement q(db, std::string("SELECT * FROM ") + table + " ORDER BY 1, 2");
            while (q.executeStep()) {
                out += table;
                for (int i = 0; i < q.getColumnCount(); ++i)
                    out += "|" + q.getColumn(i).getString();
                out += "\n";
            }
        }
        return out;
    }

    static json::object const& directory(json::value const& report, std::string const& id)
    {
        for (auto const& d : report.at("directories").as_array())
            if (d.at("id").as_string() == id)
                return d.as_object();
        throw std::runtime_error("directory " + id + " not in the report");
    }
    static std::int64_t changes(json::object const& d, char const* entity, char const* kind)
    {
        return d.at(entity).at(kind).at("count").as_int64();
    }
};

TEST_F(DryRunTest, ItTellsWhatASyncWouldChangeAndChangesNothing)
{
    ASSERT_EQ(run({"--once"}).exit_code, 0);
    std::string added, updated, deleted, dir_id;
    fake->with([&](fake::FakeApi& a) {
        auto& ds = a.dataset();
        dir_id = ds.directories().begin()->first;
        auto const& users = ds.users_of_directory(dir_id);
        updated = *users.begin();
        deleted = *std::next(users.begin());
        added = ds.add_user(dir_id, "Dana", "Dry");
        ds.update_user(updated, "Renamed");
        ds.delete_user(deleted);
    });
    auto const before = contract_rows();

    auto r = run({"--once", "--dry-run", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto const report = json::parse(r.out);
    EXPECT_EQ(report.at("directories").as_array().size(), 3u);
    auto const& d = directory(report, dir_id);
    EXPECT_EQ(changes(d, "users", "add"), 1);
    EXPECT_EQ(changes(d, "users", "update"), 1);
    EXPECT_EQ(changes(d, "users", "delete"), 1);
    EXPECT_EQ(d.at("users").at("add").at("first").at(0).at("id").as_string(), added);
    EXPECT_NE(d.at("users").at("add").at("first").at(0).at("email").as_string(), "");
    EXPECT_EQ(d.at("users").at("update").at("first").at(0).at("id").as_string(), updated);
    EXPECT_EQ(d.at("users").at("delete").at("first").at(0).at("id").as_string(), deleted);
    EXPECT_GE(changes(d, "memberships", "delete"), 0);
    EXPECT_TRUE(d.at("held").is_null());
    EXPECT_EQ(contract_rows(), before) << "a dry run writes nothing the apps see";

    r = run({"--once", "--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("+ user " + added), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("~ user " + updated), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("- user " + deleted), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("users +1 ~1 -1"), std::string::npos) << r.out;
    EXPECT_EQ(contract_rows(), before);

    // and the sync it previewed does just that
    ASSERT_EQ(run({"--once"}).exit_code, 0);
    EXPECT_EQ(differences(), std::vector<std::string>{});
}

TEST_F(DryRunTest, HeldDeletionsAreShownAsHeldAndNotRecorded)
{
    ASSERT_EQ(run({"--once"}).exit_code, 0);
    auto const dir_id = first_directory();
    fake->with([&](fake::FakeApi& a) { a.options().empty_user_listings.insert(dir_id); });
    auto const before = contract_rows();
    auto r = run({"--once", "--dry-run", "--json", dir_id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto const report = json::parse(r.out);
    ASSERT_EQ(report.at("directories").as_array().size(), 1u) << "only the directory named";
    auto const& d = directory(report, dir_id);
    ASSERT_TRUE(d.at("held").is_string());
    EXPECT_NE(std::string(d.at("held").as_string()).find("no users"), std::string::npos);
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT COUNT(*) FROM users WHERE directory_id = ?");
    q.bind(1, dir_id);
    q.executeStep();
    EXPECT_EQ(changes(d, "users", "delete"), q.getColumn(0).getInt64());
    EXPECT_EQ(contract_rows(), before) << "the hold is shown, not recorded";

    r = run({"--once", "--dry-run", dir_id});
    EXPECT_NE(r.out.find("HELD"), std::string::npos) << r.out;
}

TEST_F(DryRunTest, ItRunsBesideTheDaemonAndNamesADirectoryItCannotList)
{
    start_daemon();
    ASSERT_TRUE(ready());
    ASSERT_TRUE(converged());
    auto r = run({"--once", "--dry-run", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto const report = json::parse(r.out);
    for (auto const& d : report.at("directories").as_array())
        for (char const* entity : {"users", "groups"})
            for (char const* kind : {"add", "update", "delete"})
                EXPECT_EQ(changes(d.as_object(), entity, kind), 0)
                    << "the daemon's mirror is up to date: " << r.out;

    r = run({"--once", "--dry-run", "directory_nope"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("directory_nope"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("could not be listed"), std::string::npos) << r.out;
}

} // namespace
