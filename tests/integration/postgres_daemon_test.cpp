// The real dirsyncd binary in daemon mode into the PostgreSQL server of the test run (fixture
// postgres), against the fake WorkOS server over real TLS: it mirrors and follows events while a
// reader polls the database; two daemons on one schema make one writer and one standby; the
// standby takes over when the writer is killed (kill -9, also in the middle of its first sync)
// or paused (SIGSTOP), and a paused writer that comes back never writes again.
#include "fake_workos.hpp"
#include "pg/connection.hpp"
#include "pg/mirror_rows.hpp"
#include "pg/pg_server.hpp"
#include "pg/schema.hpp"
#include "support/background_process.hpp"
#include "support/pg_mirror_compare.hpp"
#include "support/process.hpp"
#include "support/tcp_proxy.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

using namespace dirsync;
using namespace std::chrono_literals;
using test::eventually;

namespace {

class PostgresDaemonTest : public test::PgSchemaTest {
protected:
    // poll_interval 1 s: the lease's idle timeout is 2 s, a standby tries every second.
    static constexpr auto poll = 1000ms;

    explicit PostgresDaemonTest(fake::DatasetSpec spec = {7, 3, 120, 12, 2})
        : fake(std::make_unique<fake::FakeWorkos>(fake::Dataset::generate(spec),
                                                  fake::FakeOptions{}, test::tls("server")))
        , db(test::pg_conninfo())
    {
        std::ofstream(config) << "database_schema = \"" << schema << "\"\n"
                              << "poll_interval_seconds = " << poll.count() / 1000.0 << "\n";
    }

    void TearDown() override
    {
        for (auto& d : daemons)
            if (d && d->running()) {
                d->signal(SIGCONT);
                d->signal(SIGTERM);
                d->wait(10s);
            }
        if (HasFailure())
            for (std::size_t i = 0; i < daemons.size(); ++i)
                std::cerr << "---- daemon " << i << " ----\n" << daemons[i]->output() << "----\n";
    }

    std::map<std::string, std::string> env()
    {
        return {
            {"WORKOS_API_KEY", fake->with([](fake::FakeApi& a) { return a.options().api_key; })}};
    }

    // `extra` config lines, for this daemon only.
    test::BackgroundProcess& start_daemon(std::string const& database = test::pg_conninfo(),
                                          std::string const& extra = "")
    {
        auto const n = daemons.size();
        auto own = config;
        if (!extra.empty()) {
            own = dir.file("dirsyncd" + std::to_string(n) + ".toml");
            std::filesystem::copy_file(config, own);
            std::ofstream(own, std::ios::app) << extra;
        }
        daemons.push_back(std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{DIRSYNCD_BINARY, "--config", own, "--db", database,
                                     "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")},
            env(), dir.file("daemon" + std::to_string(n) + ".log")));
        return *daemons.back();
    }

    // The mirror's view of who writes: the daemon row's pid, while a session holds the lease.
    std::optional<long long> writer_pid()
    {
        try {
            pg::use_schema(db, schema);
            auto const r = db.exec("SELECT daemon_pid FROM daemon_status");
            if (r.rows() == 0 || r.is_null(0, 0))
                return std::nullopt;
            return r.integer(0, 0);
        } catch (pg::Error const&) {
            return std::nullopt; // the schema is not there yet
        }
    }
    bool is_standby(int pid)
    {
        try {
            pg::use_schema(db, schema);
            return db.exec("SELECT count(*) FROM mirror_status WHERE state = 'standby' AND "
                           "daemon_pid = $1",
                           {std::to_string(pid)})
                       .integer(0, 0) == 1;
        } catch (pg::Error const&) {
            return false;
        }
    }

    std::vector<std::string> differences()
    {
        pg::use_schema(db, schema);
        return fake->with(
            [&](fake::FakeApi& a) { return test::pg_mirror_differences(db, a.dataset()); });
    }
    bool converged(std::chrono::milliseconds timeout = 30s)
    {
        return eventually(
            [&] {
                try {
                    return differences().empty();
                } catch (pg::Error const&) {
                    return false; // not created yet
                }
            },
            timeout);
    }
    template <class F>
    void mutate(F&& f)
    {
        fake->with([&](fake::FakeApi& a) { f(a.dataset()); });
    }
    std::string first_directory()
    {
        return fake->with(
            [](fake::FakeApi& a) { return a.dataset().directories().begin()->first; });
    }

    test::TempDir dir;
    std::string config = dir.file("dirsyncd.toml");
    std::unique_ptr<fake::FakeWorkos> fake;
    pg::Connection db;
    std::vector<std::unique_ptr<test::BackgroundProcess>> daemons;
};

// Polls the mirror from its own session while the test runs, as an app would: no membership
// without its user and group, the changes feed never goes back, and a directory is either
// absent or has all it will have (never half merged: its users come in one transaction).
class Reader {
public:
    explicit Reader(std::string schema)
        : schema_(std::move(schema))
        , thread_([this] { loop(); })
    {
    }
    ~Reader() { stop(); }
    void stop()
    {
        done_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    int reads() const { return reads_; }
    std::vector<std::string> const& problems() const { return problems_; }

private:
    void loop()
    {
        pg::Connection c(test::pg_conninfo());
        long long last_seq = 0;
        while (!done_) {
            try {
                pg::use_schema(c, schema_);
                c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
                auto const dangling =
                    c.exec("SELECT count(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM "
                           "users u WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups "
                           "g WHERE g.id = m.group_id)")
                        .integer(0, 0);
                auto const seq = c.exec("SELECT COALESCE(max(seq), 0) FROM changes").integer(0, 0);
                c.exec("COMMIT");
                if (dangling != 0)
                    problems_.push_back(std::to_string(dangling) + " dangling memberships");
                if (seq < last_seq)
                    problems_.push_back("changes went back from " + std::to_string(last_seq) +
                                        " to " + std::to_string(seq));
                last_seq = std::max(last_seq, seq);
                ++reads_;
            } catch (pg::Error const&) {
                if (!c.alive())
                    return;
                try {
                    c.exec("ROLLBACK");
                } catch (pg::Error const&) {
                }
            }
            std::this_thread::sleep_for(5ms);
        }
    }

    std::string schema_;
    std::atomic<bool> done_{false};
    std::atomic<int> reads_{0};
    std::vector<std::string> problems_;
    std::thread thread_;
};

// The ```sql block after each "<!-- pg-recipe: NAME -->" in README.md.
std::map<std::string, std::string> readme_pg_recipes()
{
    std::ifstream in(std::string(DIRSYNC_SOURCE_DIR) + "/README.md");
    std::string const readme((std::istreambuf_iterator<char>(in)), {});
    std::regex const block(R"(<!-- pg-recipe: (\w+) -->\s*```sql\n([\s\S]*?)```)");
    std::map<std::string, std::string> out;
    for (std::sregex_iterator it(readme.begin(), readme.end(), block), end; it != end; ++it)
        out[(*it)[1]] = (*it)[2];
    return out;
}

std::string one_row(pg::Result const& r)
{
    std::string out;
    for (int row = 0; row < r.rows(); ++row)
        out += (row ? ";" : "") + r.text(row, 0) + (r.is_null(row, 1) ? "" : "|" + r.text(row, 1));
    return out;
}

} // namespace

TEST_F(PostgresDaemonTest, TheReadmesPostgresRecipesRunAsWrittenAgainstTheDaemonsMirror)
{
    auto& d = start_daemon();
    ASSERT_TRUE(converged()) << d.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == d.pid(); }, 10s));
    auto& s = start_daemon();
    ASSERT_TRUE(eventually([&] { return is_standby(s.pid()); }, 10s)) << s.output();
    auto const recipes = readme_pg_recipes();
    for (auto const* name :
         {"user_active", "fresh_enough", "writer_and_standbys", "custom_attribute"})
        ASSERT_TRUE(recipes.count(name)) << "README.md lost the recipe " << name;

    std::string user, org, email;
    fake->with([&](fake::FakeApi& a) {
        auto const& ds = a.dataset();
        auto const dir_id = ds.directories().begin()->first;
        for (auto const& id : ds.users_of_directory(dir_id)) {
            auto const& u = ds.users().at(id);
            if (u.email) {
                user = id;
                org = u.organization_id;
                email = *u.email;
                break;
            }
        }
    });
    ASSERT_FALSE(user.empty());
    pg::use_schema(db, schema);
    auto const active = db.exec("SELECT state = 'active' FROM users WHERE id = $1", {user});
    auto upper = email;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(db.exec(recipes.at("user_active"), {org, upper}).text(0, 0), active.text(0, 0));
    EXPECT_EQ(db.exec(recipes.at("user_active"), {"org_none", email}).text(0, 0), "f");
    EXPECT_EQ(db.exec(recipes.at("fresh_enough")).text(0, 0), "t");
    auto const who = db.exec(recipes.at("writer_and_standbys"));
    ASSERT_EQ(who.rows(), 2) << one_row(who);
    EXPECT_EQ(who.text(0, 3), std::to_string(d.pid())) << "the '*' row: the writer";
    EXPECT_EQ(who.text(1, 1), "standby");
    EXPECT_EQ(who.text(1, 3), std::to_string(s.pid()));
    EXPECT_EQ(db.exec(recipes.at("custom_attribute"), {user}).rows(), 1);
}

TEST_F(PostgresDaemonTest, MirrorsAndFollowsEveryKindOfEventWhileAReaderPolls)
{
    Reader reader(schema);
    auto& d = start_daemon();
    ASSERT_TRUE(converged()) << d.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == d.pid(); }, 10s));
    auto const dir_id = first_directory();

    std::string user, group;
    mutate([&](fake::Dataset& ds) {
        user = ds.add_user(dir_id, "Eve", "Event");
        group = ds.add_group(dir_id, "Created By Event");
        ds.add_member(user, group);
    });
    ASSERT_TRUE(converged()) << "create";
    mutate([&](fake::Dataset& ds) {
        ds.update_user(user, "Evelyn", std::string("inactive"));
        ds.remove_member(user, group);
    });
    ASSERT_TRUE(converged()) << "update, membership removed";
    mutate([&](fake::Dataset& ds) {
        ds.delete_group(group);
        ds.delete_user(user);
    });
    ASSERT_TRUE(converged()) << "deletes";
    mutate([&](fake::Dataset& ds) { ds.delete_directory(dir_id); });
    ASSERT_TRUE(converged()) << "dsync.deleted";

    // status reads PostgreSQL: the writer runs, every directory ok
    auto const status = test::run_process(
        {DIRSYNCD_BINARY, "status", "--config", config, "--db", test::pg_conninfo()}, {});
    EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
    EXPECT_NE(status.out.find("daemon: running, pid " + std::to_string(d.pid())), std::string::npos)
        << status.out;

    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(10s), 0) << d.output();
    EXPECT_EQ(writer_pid(), std::nullopt) << "a clean stop clears daemon_pid";
    reader.stop();
    EXPECT_GT(reader.reads(), 20);
    EXPECT_EQ(reader.problems(), std::vector<std::string>{});
}

TEST_F(PostgresDaemonTest, OneWriterOneStandbyAndTheStandbyTakesOverAfterKill9)
{
    auto& a = start_daemon();
    ASSERT_TRUE(converged()) << a.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == a.pid(); }, 10s));
    auto& b = start_daemon();
    ASSERT_TRUE(eventually([&] { return is_standby(b.pid()); }, 10s)) << b.output();
    EXPECT_EQ(writer_pid(), a.pid()) << "the writer stays the writer";

    auto const status = test::run_process(
        {DIRSYNCD_BINARY, "status", "--json", "--config", config, "--db", test::pg_conninfo()}, {});
    EXPECT_NE(status.out.find("\"standbys\":[{"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("\"pid\":" + std::to_string(b.pid())), std::string::npos)
        << status.out;

    auto const killed = std::chrono::steady_clock::now();
    a.signal(SIGKILL);
    ASSERT_TRUE(eventually([&] { return writer_pid() == b.pid(); }, 10s)) << b.output();
    auto const took = std::chrono::steady_clock::now() - killed;
    EXPECT_LT(took, 2 * poll) << "takeover within 2 x poll_interval";
    EXPECT_FALSE(is_standby(b.pid()));

    // the new writer follows the stream from the cursor in the database
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Takeover"); });
    ASSERT_TRUE(converged()) << b.output();
    EXPECT_NE(b.output().find("a complete mirror exists; following events from"), std::string::npos)
        << "resumed, no new full sync";
}

TEST_F(PostgresDaemonTest, APausedWriterIsReplacedAndNeverWritesAgainWhenItWakes)
{
    auto& a = start_daemon();
    ASSERT_TRUE(converged()) << a.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == a.pid(); }, 10s));
    auto& b = start_daemon();
    ASSERT_TRUE(eventually([&] { return is_standby(b.pid()); }, 10s)) << b.output();

    a.signal(SIGSTOP);
    // the server ends A's idle session after 2 x poll_interval; B's next try wins
    auto const paused = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return writer_pid() == b.pid(); }, 10s)) << b.output();
    EXPECT_LT(std::chrono::steady_clock::now() - paused, 4 * poll);
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "While", "Paused"); });
    ASSERT_TRUE(converged()) << b.output();

    pg::use_schema(db, schema);
    auto const seq = db.exec("SELECT max(seq) FROM changes").integer(0, 0);
    a.signal(SIGCONT);
    ASSERT_TRUE(eventually([&] { return is_standby(a.pid()); }, 10s)) << a.output();
    EXPECT_NE(a.output().find("lost the writer lease"), std::string::npos) << a.output();
    EXPECT_EQ(writer_pid(), b.pid()) << "B stays the writer";
    pg::use_schema(db, schema);
    EXPECT_EQ(db.exec("SELECT max(seq) FROM changes").integer(0, 0), seq)
        << "A wrote nothing after it woke";
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Wake"); });
    ASSERT_TRUE(converged()) << b.output();
}

TEST_F(PostgresDaemonTest, AWriterCutOffFromTheServerIsReplacedAndStandsByWhenTheLinkHeals)
{
    // A reaches the server through a proxy that can drop the link; B directly.
    auto const direct = test::pg_conninfo();
    auto const at = direct.find("port=") + 5;
    auto const upstream = std::stoi(direct.substr(at));
    test::TcpProxy link(upstream);
    auto via_link = direct;
    via_link.replace(at, direct.find(' ', at) - at, std::to_string(link.port()));

    auto& a = start_daemon(via_link);
    ASSERT_TRUE(converged()) << a.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == a.pid(); }, 10s));
    auto& b = start_daemon();
    ASSERT_TRUE(eventually([&] { return is_standby(b.pid()); }, 10s)) << b.output();

    link.cut();
    // the server ends A's session once it has been idle 2 x poll_interval; B's next try wins
    auto const cut = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return writer_pid() == b.pid(); }, 10s)) << b.output();
    EXPECT_LT(std::chrono::steady_clock::now() - cut, 4 * poll);
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "While", "Cut"); });
    ASSERT_TRUE(converged()) << b.output();

    link.heal();
    ASSERT_TRUE(eventually([&] { return is_standby(a.pid()); }, 20s)) << a.output();
    EXPECT_EQ(writer_pid(), b.pid()) << "B stays the writer";
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Heal"); });
    ASSERT_TRUE(converged()) << b.output();
}

TEST_F(PostgresDaemonTest, AWriterWhoseSessionIsEndedReconnectsAndWritesAgain)
{
    auto& a = start_daemon();
    ASSERT_TRUE(converged()) << a.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == a.pid(); }, 10s));
    // the server ends the writer's session (a restart, a failover of the server, an admin)
    pg::use_schema(db, schema);
    auto const ended = db.exec("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE "
                               "locktype = 'advisory' AND granted AND pid <> pg_backend_pid()");
    ASSERT_GE(ended.integer(0, 0), 1);
    auto const dir_id = first_directory();
    mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "After", "Reconnect"); });
    ASSERT_TRUE(converged()) << a.output();
    EXPECT_NE(a.output().find("lost the writer lease"), std::string::npos) << a.output();
    EXPECT_NE(a.output().find("a complete mirror exists; following events from"),
              std::string::npos);
    EXPECT_EQ(writer_pid(), a.pid());
    EXPECT_TRUE(a.running());
}

TEST_F(PostgresDaemonTest, OperatorCommandsReachTheWriterAndAStandbySendsThemToItsHost)
{
    auto const writer_socket = dir.file("writer.control");
    auto const standby_socket = dir.file("standby.control");
    auto command = [&](std::string const& socket, std::vector<std::string> args) {
        auto const own = dir.file("operator.toml");
        std::filesystem::copy_file(config, own, std::filesystem::copy_options::overwrite_existing);
        std::ofstream(own, std::ios::app) << "control_socket = \"" << socket << "\"\n";
        std::vector<std::string> argv{DIRSYNCD_BINARY, "--api-url", fake->url(), "--ca-file",
                                      test::cert("ca.pem")};
        argv.insert(argv.end(), args.begin(), args.end());
        for (std::string a : {"--config", own.c_str(), "--db"})
            argv.push_back(a);
        argv.push_back(test::pg_conninfo());
        return test::run_process(argv, env());
    };

    auto& a = start_daemon(test::pg_conninfo(), "control_socket = \"" + writer_socket + "\"\n");
    ASSERT_TRUE(converged()) << a.output();
    ASSERT_TRUE(eventually([&] { return writer_pid() == a.pid(); }, 10s));
    auto& b = start_daemon(test::pg_conninfo(), "control_socket = \"" + standby_socket + "\"\n");
    ASSERT_TRUE(eventually([&] { return is_standby(b.pid()); }, 10s)) << b.output();
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(standby_socket); }, 5s));

    // the writer resyncs one directory and says how it went
    auto const dir_id = first_directory();
    auto const listings = fake->with([](fake::FakeApi& f) {
        return f.stats().requests.count("GET /directory_users")
                   ? f.stats().requests.at("GET /directory_users")
                   : 0;
    });
    auto const resync = command(writer_socket, {"resync", dir_id});
    EXPECT_EQ(resync.exit_code, 0) << resync.out << resync.err;
    EXPECT_NE(resync.out.find("resync:"), std::string::npos) << resync.out;
    EXPECT_TRUE(differences().empty());
    EXPECT_GT(
        fake->with([](fake::FakeApi& f) { return f.stats().requests.at("GET /directory_users"); }),
        listings)
        << "the directory was listed again before the command returned";

    // a standby sends it on, naming why
    auto const refused = command(standby_socket, {"resync"});
    EXPECT_EQ(refused.exit_code, 6) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("this dirsyncd is a standby"), std::string::npos) << refused.err;
    EXPECT_EQ(command(standby_socket, {"reload"}).exit_code, 0);

    // no daemon answering and the lease held: refused, as --once would be
    auto const nobody = command(dir.file("nobody.control"), {"resync"});
    EXPECT_EQ(nobody.exit_code, 6) << nobody.err;
    EXPECT_NE(nobody.err.find("run the command on the writer's host"), std::string::npos)
        << nobody.err;

    // with every daemon stopped, the command does it itself
    for (auto* d : {&a, &b}) {
        d->signal(SIGTERM);
        EXPECT_EQ(d->wait(10s), 0);
    }
    auto const alone = command(dir.file("nobody.control"), {"resync", dir_id});
    EXPECT_EQ(alone.exit_code, 0) << alone.err;
}

class PostgresDaemonLargeTest : public PostgresDaemonTest {
protected:
    PostgresDaemonLargeTest()
        : PostgresDaemonTest({11, 4, 1500, 40, 3})
    {
    }
};

TEST_F(PostgresDaemonLargeTest, WritersKilledAtRandomMomentsOfTheFirstSyncAreReplacedUntilItLands)
{
    // Each writer is killed at a random moment (a listing, a merge's transaction, an event page),
    // a standby takes over and resumes; a reader polls throughout.
    Reader reader(schema);
    std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
    auto* writer = &start_daemon();
    ASSERT_TRUE(eventually([&] { return writer_pid() == writer->pid(); }, 10s)) << writer->output();
    auto const dir_id = first_directory();
    for (int i = 0; i < 5; ++i) {
        auto& standby = start_daemon();
        ASSERT_TRUE(eventually([&] { return is_standby(standby.pid()); }, 10s)) << standby.output();
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 1500)(rng)));
        writer->signal(SIGKILL);
        ASSERT_TRUE(eventually([&] { return writer_pid() == standby.pid(); }, 10s))
            << standby.output();
        writer = &standby;
        mutate([&](fake::Dataset& ds) { ds.add_user(dir_id, "Kill", std::to_string(i)); });
    }
    ASSERT_TRUE(converged(60s)) << writer->output();
    int resumed = 0; // in trials, 3 of the 5 takeovers resumed a sync cut short
    for (auto const& d : daemons)
        resumed += d->output().find("resuming the full sync") != std::string::npos;
    RecordProperty("takeovers_that_resumed_a_sync", resumed);
    reader.stop();
    EXPECT_GT(reader.reads(), 20);
    EXPECT_EQ(reader.problems(), std::vector<std::string>{});
}
