// The same daemon tests against both databases (a parameterised fixture): the real dirsyncd in
// daemon mode, against the fake WorkOS server over real TLS, into an SQLite file or a schema of
// the PostgreSQL server of the test run; the mirror is compared with the fake after each step.
#include "fake_workos.hpp"
#include "pg/connection.hpp"
#include "pg/pg_server.hpp"
#include "pg/schema.hpp"
#include "support/background_process.hpp"
#include "support/pg_mirror_compare.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

using namespace dirsync;
using namespace std::chrono_literals;
using test::eventually;

namespace {

enum class Backend { sqlite, postgres };

class BackendTest : public test::PgSchemaTest, public ::testing::WithParamInterface<Backend> {
protected:
    BackendTest()
        : fake(std::make_unique<fake::FakeWorkos>(fake::Dataset::generate({13, 3, 100, 10, 2}),
                                                  fake::FakeOptions{}, test::tls("server")))
    {
        std::ofstream(config) << "database_schema = \"" << schema << "\"\n"
                              << "poll_interval_seconds = 0.3\n";
    }
    void TearDown() override
    {
        if (daemon && daemon->running()) {
            daemon->signal(SIGTERM);
            daemon->wait(10s);
        }
        if (HasFailure() && daemon)
            std::cerr << "---- daemon ----\n" << daemon->output() << "----\n";
    }

    bool postgres() const { return GetParam() == Backend::postgres; }
    std::string database() const { return postgres() ? test::pg_conninfo() : db_path; }

    void start_daemon()
    {
        daemon = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{DIRSYNCD_BINARY, "--config", config, "--db", database(),
                                     "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
            std::map<std::string, std::string>{{"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) {
                                                    return a.options().api_key;
                                                })}},
            dir.file("daemon" + std::to_string(starts++) + ".log"));
    }

    std::vector<std::string> differences()
    {
        if (postgres()) {
            if (!pg_)
                pg_ = std::make_unique<pg::Connection>(test::pg_conninfo());
            pg::use_schema(*pg_, schema);
            return fake->with(
                [&](fake::FakeApi& a) { return test::pg_mirror_differences(*pg_, a.dataset()); });
        }
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return fake->with(
            [&](fake::FakeApi& a) { return test::mirror_differences(db, a.dataset()); });
    }
    bool converged(std::chrono::milliseconds timeout = 30s)
    {
        return eventually(
            [&] {
                try {
                    return differences().empty();
                } catch (std::exception const&) { // not created yet
                    return false;
                }
            },
            timeout);
    }
    template <class F>
    void mutate(F&& f)
    {
        fake->with([&](fake::FakeApi& a) { f(a.dataset()); });
    }
    std::uint64_t requests(std::string const& route)
    {
        return fake->with([&](fake::FakeApi& a) {
            auto it = a.stats().requests.find(route);
            return it == a.stats().requests.end() ? std::uint64_t{0} : it->second;
        });
    }
    std::string first_directory()
    {
        return fake->with(
            [](fake::FakeApi& a) { return a.dataset().directories().begin()->first; });
    }

    test::TempDir dir;
    std::string config = dir.file("dirsyncd.toml");
    std::string db_path = dir.file("mirror.db");
    std::unique_ptr<fake::FakeWorkos> fake;
    std::unique_ptr<test::BackgroundProcess> daemon;
    std::unique_ptr<pg::Connection> pg_;
    int starts = 0;
};

} // namespace

TEST_P(BackendTest, FirstSyncThenEveryKindOfEventWithoutAnotherListing)
{
    start_daemon();
    ASSERT_TRUE(converged()) << "first sync";
    auto const dir_id = first_directory();
    auto const listings = requests("GET /directory_users");
    std::string user, group;
    mutate([&](fake::Dataset& ds) {
        user = ds.add_user(dir_id, "Eve", "Event");
        group = ds.add_group(dir_id, "Created By Event");
        ds.add_member(user, group);
    });
    ASSERT_TRUE(converged()) << "created";
    mutate([&](fake::Dataset& ds) {
        ds.update_user(user, "Evelyn", std::string("inactive"));
        ds.update_group(group, "Renamed By Event");
        ds.remove_member(user, group);
    });
    ASSERT_TRUE(converged()) << "updated";
    mutate([&](fake::Dataset& ds) {
        ds.duplicate_events = true;
        ds.swap_event_order = true;
        ds.delete_group(group);
        ds.delete_user(user);
    });
    ASSERT_TRUE(converged()) << "deleted, with duplicate and out-of-order events";
    EXPECT_EQ(requests("GET /directory_users"), listings) << "events only, no listing";
    mutate([&](fake::Dataset& ds) { ds.delete_directory(dir_id); });
    ASSERT_TRUE(converged()) << "dsync.deleted";
}

TEST_P(BackendTest, ARestartResumesFromTheCursorAndAKilledOneConvergesToo)
{
    start_daemon();
    ASSERT_TRUE(converged());
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(10s), 0) << daemon->output();
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "While", "Stopped"); });
    auto const listings = requests("GET /directory_users");
    start_daemon();
    ASSERT_TRUE(converged()) << "the event from while it was stopped";
    EXPECT_EQ(requests("GET /directory_users"), listings) << "resumed from the cursor";

    daemon->signal(SIGKILL);
    daemon->wait(10s);
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Kill"); });
    start_daemon();
    ASSERT_TRUE(converged()) << "after kill -9";
}

INSTANTIATE_TEST_SUITE_P(Both, BackendTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](auto const& param_info) {
                             return param_info.param == Backend::sqlite ? "sqlite" : "postgres";
                         });
