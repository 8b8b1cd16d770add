// The real dirsyncd binary, `--once`, against the fake WorkOS server over real TLS.
#include "fake_workos.hpp"
#include "support/mirror_compare.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <gtest/gtest.h>

#include <fstream>

using test::ProcessResult;

namespace {

class OnceTest : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string db_path = dir.file("mirror.db");
    std::unique_ptr<fake::FakeWorkos> fake;

    void start_fake(fake::DatasetSpec spec = {5, 3, 300, 24, 3}, fake::FakeOptions options = {},
                    std::string const& cert = "server")
    {
        fake = std::make_unique<fake::FakeWorkos>(fake::Dataset::generate(spec), options,
                                                  test::tls(cert));
    }

    std::string key()
    {
        return fake->with([](fake::FakeApi& a) { return a.options().api_key; });
    }

    ProcessResult once(std::vector<std::string> extra = {},
                       std::map<std::string, std::string> env = {})
    {
        std::vector<std::string> argv{
            DIRSYNCD_BINARY, "--once",    "--db",      db_path,
            "--api-url",     fake->url(), "--ca-file", test::cert("ca.pem")};
        argv.insert(argv.end(), extra.begin(), extra.end());
        if (!env.count("WORKOS_API_KEY"))
            env["WORKOS_API_KEY"] = key();
        return test::run_process(argv, env);
    }

    std::vector<std::string> differences()
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return fake->with(
            [&](fake::FakeApi& a) { return test::mirror_differences(db, a.dataset()); });
    }
    int scalar(std::string const& sql)
    {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt();
    }
    std::uint64_t requests()
    {
        return fake->with([](fake::FakeApi& a) { return a.stats().total(); });
    }
    std::string write(std::string const& name, std::string const& text)
    {
        std::ofstream(dir.file(name)) << text;
        return dir.file(name);
    }
};

// One line on stderr, naming the cause.
void expect_one_error_line(ProcessResult const& r, std::string const& needle)
{
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

} // namespace

TEST_F(OnceTest, MirrorsEveryDirectoryOverTls)
{
    start_fake();
    auto r = once();
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM directories"), 3);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM sync_state WHERE full_sync_finished_at IS NOT NULL"), 3);
    EXPECT_GT(scalar("SELECT COUNT(*) FROM changes"), 300);
    EXPECT_NE(r.out.find("full sync complete: 3 directories"), std::string::npos) << r.out;
    // paced: the fake never had to refuse a request
    EXPECT_EQ(fake->with([](fake::FakeApi& a) { return a.stats().throttled; }), 0u);
}

TEST_F(OnceTest, SecondRunWithNothingChangedAddsNoChanges)
{
    start_fake();
    ASSERT_EQ(once().exit_code, 0);
    int const before = scalar("SELECT COUNT(*) FROM changes");
    auto r = once();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM changes"), before);
}

TEST_F(OnceTest, SecondRunAfterUpstreamChangesConvergesAndRecordsExactlyThoseChanges)
{
    start_fake();
    ASSERT_EQ(once().exit_code, 0);
    int const seq = scalar("SELECT MAX(seq) FROM changes");
    std::string updated, deleted_user, deleted_group, gone_dir, added;
    fake->with([&](fake::FakeApi& a) {
        auto& ds = a.dataset();
        auto const first_dir = ds.directories().begin()->first;
        auto const& users = ds.users_of_directory(first_dir);
        updated = *users.begin();
        deleted_user = *std::next(users.begin());
        deleted_group = *ds.groups_of_directory(first_dir).begin();
        ds.update_user(updated, "Renamed", std::string("inactive"));
        ds.delete_user(deleted_user);
        ds.delete_group(deleted_group);
        added = ds.add_user(first_dir, "Neu", "Person");
        ds.add_member(added, *ds.groups_of_directory(first_dir).begin());
        gone_dir = std::prev(ds.directories().end())->first;
        ds.delete_directory(gone_dir);
    });
    auto r = once();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(differences(), std::vector<std::string>{});
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM directories"), 2);
    auto has_change = [&](std::string const& entity, std::string const& id, std::string const& op) {
        return scalar("SELECT COUNT(*) FROM changes WHERE seq > " + std::to_string(seq) +
                      " AND entity = '" + entity + "' AND entity_id = '" + id + "' AND op = '" +
                      op + "'");
    };
    EXPECT_EQ(has_change("user", updated, "upsert"), 1);
    EXPECT_EQ(has_change("user", deleted_user, "delete"), 1);
    EXPECT_EQ(has_change("group", deleted_group, "delete"), 1);
    EXPECT_EQ(has_change("user", added, "upsert"), 1);
    EXPECT_EQ(has_change("directory", gone_dir, "delete"), 1);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM users WHERE directory_id = '" + gone_dir + "'"), 0);
    EXPECT_EQ(test::dangling_memberships(*std::make_unique<SQLite::Database>(db_path)), 0);
}

TEST_F(OnceTest, EveryMembershipSourceWorksInANewEnvironmentWithEmptyEmbeddedGroups)
{
    fake::FakeOptions options;
    options.empty_embedded_groups = true;
    start_fake({9, 2, 120, 10, 2}, options);
    for (auto const* source : {"per_group", "per_user"}) {
        std::filesystem::remove(db_path);
        auto config = write("c.toml", std::string("membership_source = \"") + source + "\"\n");
        auto r = once({"--config", config});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(differences(), std::vector<std::string>{}) << source;
        EXPECT_EQ(scalar("SELECT COUNT(*) FROM sync_state WHERE membership_strategy = '" +
                         std::string(source) + "'"),
                  2);
    }
}

TEST_F(OnceTest, RateLimitedServerIsHonouredAndNeverHitEarly)
{
    fake::FakeOptions options;
    options.global_per_second = 15; // tighter than dirsyncd's pace
    start_fake({3, 2, 100, 8, 2}, options);
    auto config = write("c.toml", "global_requests_per_second = 200\n"
                                  "directory_users_requests_per_second = 200\n");
    auto r = once({"--config", config});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(differences(), std::vector<std::string>{});
    auto const stats = fake->with([](fake::FakeApi& a) { return a.stats(); });
    EXPECT_GT(stats.throttled, 0u);
    EXPECT_EQ(stats.early_retries, 0u) << "a request came before the Retry-After had passed";
    EXPECT_NE(r.out.find("HTTP 429"), std::string::npos);
}

TEST_F(OnceTest, RejectedApiKeyExitsThreeWithOneLineAndNeverShowsTheKey)
{
    start_fake();
    std::string const wrong = "sk_test_wrong_key_987654321";
    auto r = once({}, {{"WORKOS_API_KEY", wrong}});
    EXPECT_EQ(r.exit_code, 3);
    expect_one_error_line(r, "rejected the API key");
    EXPECT_EQ(r.out.find(wrong), std::string::npos);
    EXPECT_EQ(r.err.find(wrong), std::string::npos);
}

TEST_F(OnceTest, ApiKeyFromAConfiguredFile)
{
    start_fake();
    auto key_file = write("key", key() + "\n");
    ::chmod(key_file.c_str(), 0600);
    auto config = write("c.toml", "api_key_file = \"" + key_file + "\"\n");
    std::vector<std::string> argv{
        DIRSYNCD_BINARY, "--once",    "--config",  config,      "--db",
        db_path,         "--api-url", fake->url(), "--ca-file", test::cert("ca.pem")};
    auto r = test::run_process(argv, {});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(OnceTest, NoApiKeyIsAUsageError)
{
    start_fake();
    std::vector<std::string> argv{DIRSYNCD_BINARY, "--once",    "--db",
                                  db_path,         "--api-url", fake->url()};
    auto r = test::run_process(argv, {});
    EXPECT_EQ(r.exit_code, 2);
    expect_one_error_line(r, "no API key");
    EXPECT_FALSE(std::filesystem::exists(db_path)) << "nothing is written before the key is known";
}

TEST_F(OnceTest, UntrustedCertificateIsRefusedBeforeAnyRequest)
{
    start_fake({}, {}, "untrusted");
    auto r = once();
    EXPECT_EQ(r.exit_code, 4);
    expect_one_error_line(r, "TLS failure");
    EXPECT_EQ(requests(), 0u);
}

TEST_F(OnceTest, CertificateForAnotherHostIsRefusedBeforeAnyRequest)
{
    start_fake({}, {}, "other-host");
    auto r = once();
    EXPECT_EQ(r.exit_code, 4);
    expect_one_error_line(r, "certificate verify failed");
    EXPECT_EQ(requests(), 0u);
}

TEST_F(OnceTest, ExpiredCertificateIsRefusedBeforeAnyRequest)
{
    start_fake({}, {}, "expired");
    auto r = once();
    EXPECT_EQ(r.exit_code, 4);
    expect_one_error_line(r, "TLS failure");
    EXPECT_EQ(requests(), 0u);
}

namespace {

// Whether a client that accepts TLS 1.0/1.1 completes a handshake with the server at `port`.
bool legacy_client_handshakes(unsigned short port)
{
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
    asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, ctx);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::client, ec);
    return !ec;
}

} // namespace

TEST_F(OnceTest, ServerOfferingOnlyTls10And11IsRefusedBeforeAnyRequest)
{
    auto files = test::tls();
    files.legacy_protocols_only = true;
    fake = std::make_unique<fake::FakeWorkos>(fake::Dataset::generate({5, 3, 300, 24, 3}),
                                              fake::FakeOptions{}, files);
    // the server really speaks TLS 1.1 ...
    ASSERT_TRUE(legacy_client_handshakes(fake->port()));
    // ... and dirsyncd will not
    auto r = once();
    EXPECT_EQ(r.exit_code, 4);
    expect_one_error_line(r, "TLS failure");
    EXPECT_EQ(requests(), 0u);
    EXPECT_FALSE(std::filesystem::exists(db_path) && scalar("SELECT COUNT(*) FROM users") > 0);
}

TEST_F(OnceTest, SystemTrustStoreDoesNotTrustTheTestCa)
{
    start_fake();
    std::vector<std::string> argv{DIRSYNCD_BINARY, "--once",    "--db",
                                  db_path,         "--api-url", fake->url()};
    auto r = test::run_process(argv, {{"WORKOS_API_KEY", key()}});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(requests(), 0u);
}

TEST_F(OnceTest, UnreachableHostExitsFour)
{
    start_fake();
    auto const port = fake->port();
    fake.reset(); // nothing listens there any more
    std::vector<std::string> argv{DIRSYNCD_BINARY, "--once",
                                  "--db",          db_path,
                                  "--api-url",     "https://localhost:" + std::to_string(port),
                                  "--ca-file",     test::cert("ca.pem")};
    auto config = write("c.toml", "max_attempts = 2\n");
    argv.insert(argv.end(), {"--config", config});
    auto r = test::run_process(argv, {{"WORKOS_API_KEY", "sk_test_x"}});
    EXPECT_EQ(r.exit_code, 4);
    expect_one_error_line(r, "cannot reach");
}

TEST_F(OnceTest, PlainHttpToARemoteHostIsRefused)
{
    std::vector<std::string> argv{DIRSYNCD_BINARY, "--once",    "--db",
                                  db_path,         "--api-url", "http://api.workos.com"};
    auto r = test::run_process(argv, {{"WORKOS_API_KEY", "sk_test_x"}});
    EXPECT_EQ(r.exit_code, 2);
    expect_one_error_line(r, "only allowed to a loopback host");
}

TEST_F(OnceTest, DatabaseFromANewerSchemaIsRefusedAndLeftAlone)
{
    start_fake();
    {
        SQLite::Database db(db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("PRAGMA user_version = 42; CREATE TABLE keep_me (x)");
    }
    auto r = once();
    EXPECT_EQ(r.exit_code, 5);
    expect_one_error_line(r, "newer than this dirsyncd supports");
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'keep_me'"), 1);
    EXPECT_EQ(requests(), 0u);
}

TEST_F(OnceTest, FileThatIsNotADatabaseIsRefused)
{
    start_fake();
    write("mirror.db", std::string(4096, 'x'));
    auto r = once();
    EXPECT_EQ(r.exit_code, 5);
    expect_one_error_line(r, "is not a SQLite database");
}

TEST_F(OnceTest, BadConfigNamesTheKeyAndTheFile)
{
    start_fake();
    auto config = write("bad.toml", "database = \"x.db\"\nmax_concurent_directories = 3\n");
    auto r = once({"--config", config});
    EXPECT_EQ(r.exit_code, 2);
    expect_one_error_line(r, "bad.toml: line 2: unknown key 'max_concurent_directories'");
    EXPECT_FALSE(std::filesystem::exists(db_path));
}

TEST_F(OnceTest, WrongTypeBadUrlAndMissingKeyFileEachGiveOneLineAndWriteNothing)
{
    start_fake();
    struct Case {
        char const* config;
        char const* needle;
    };
    for (auto const& c :
         {Case{"max_attempts = \"five\"\n", "line 1: key 'max_attempts': expected an integer"},
          Case{"api_url = \"ftp://example.com\"\n", "line 1: key 'api_url': 'ftp://example.com'"},
          Case{"api_key_file = \"/nonexistent/key\"\n", "api_key_file /nonexistent/key"}}) {
        auto const config = write("case.toml", c.config);
        // no WORKOS_API_KEY: the key file is where the key must come from
        std::vector<std::string> argv{DIRSYNCD_BINARY, "--once", "--config",
                                      config,          "--db",   db_path};
        auto r = test::run_process(argv, {});
        EXPECT_EQ(r.exit_code, 2) << c.config << r.err;
        expect_one_error_line(r, c.needle);
        if (std::string(c.config).rfind("api_key_file", 0) != 0)
            expect_one_error_line(r, "case.toml");
        EXPECT_FALSE(std::filesystem::exists(db_path)) << c.config;
    }
    EXPECT_EQ(requests(), 0u);
}

TEST_F(OnceTest, ScopeByDirectoryIdsAndByOrganization)
{
    start_fake();
    auto const [first, org] = fake->with([](fake::FakeApi& a) {
        auto const& d = a.dataset().directories().begin()->second;
        return std::make_pair(d.id, d.organization_id);
    });
    auto r = once({"--config", write("d.toml", "directories = [\"" + first + "\"]\n")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM directories"), 1);
    EXPECT_EQ(scalar("SELECT COUNT(DISTINCT directory_id) FROM users"), 1);

    std::filesystem::remove(db_path);
    r = once({"--config", write("o.toml", "organizations = [\"" + org + "\"]\n")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM directories"), 1);
}

TEST_F(OnceTest, HeldDeletionsAreAppliedWithAllowDeletions)
{
    start_fake();
    ASSERT_EQ(once().exit_code, 0);
    auto const dir_id = fake->with([](fake::FakeApi& a) {
        auto& ds = a.dataset();
        auto const id = ds.directories().begin()->first;
        auto const users = std::vector<std::string>(ds.users_of_directory(id).begin(),
                                                    ds.users_of_directory(id).end());
        for (std::size_t i = 0; i < users.size() / 2; ++i)
            ds.delete_user(users[i]);
        return id;
    });
    auto r = once();
    EXPECT_EQ(r.exit_code, 1);
    expect_one_error_line(r, "full sync held");
    EXPECT_NE(differences(), std::vector<std::string>{});
    r = once({"--allow-deletions", dir_id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(differences(), std::vector<std::string>{});
    r = test::run_process({DIRSYNCD_BINARY, "--allow-deletions", dir_id}, {});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("only goes with --once"), std::string::npos);
}

TEST(Cli, HelpAndVersion)
{
    auto r = test::run_process({DIRSYNCD_BINARY, "--version"}, {});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("dirsyncd ", 0), 0u);
    r = test::run_process({DIRSYNCD_BINARY, "--help"}, {});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("--once"), std::string::npos);
    r = test::run_process({DIRSYNCD_BINARY, "--frobnicate"}, {});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("unknown argument '--frobnicate'"), std::string::npos);
}

TEST_F(OnceTest, SizeCapReachedExitsFiveKeepsTheMirrorAndTheNextRunCompletes)
{
    start_fake({6, 1, 20, 3, 2});
    ASSERT_EQ(once().exit_code, 0);
    auto const users = scalar("SELECT COUNT(*) FROM users");
    fake->with([](fake::FakeApi& a) {
        auto& ds = a.dataset();
        auto const dir_id = ds.directories().begin()->first;
        for (int i = 0; i < 3000; ++i)
            ds.add_user(dir_id, "Bulk", std::to_string(i));
    });
    auto r = once({"--config", write("cap.toml", "max_database_bytes = 1048576\n")});
    EXPECT_EQ(r.exit_code, 5) << r.out;
    expect_one_error_line(r, "database or disk is full");
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM users"), users) << "nothing half-merged";
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM sync_state WHERE last_error LIKE '%disk is full%'"), 1);

    r = once();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(differences(), std::vector<std::string>{});
}

TEST(Cli, APostgresDatabaseIsRefusedByNameInTheModesNotBuiltForItAndItsPasswordIsNeverShown)
{
    test::TempDir dir;
    std::string const secret = "s3cretPassw0rd";
    auto const url = "postgresql://app:" + secret + "@db.example.com/dirsync";
    auto const config = dir.file("c.toml");
    {
        std::ofstream(config) << "database = \"host=db.example.com password=" << secret
                              << " dbname=dirsync\"\n";
    }
    std::vector<std::vector<std::string>> commands = {
        {DIRSYNCD_BINARY, "--once", "--dry-run", "--db", url},
        {DIRSYNCD_BINARY, "--once", "--dry-run", "--config", config}};
    for (auto const& argv : commands) {
        auto const r = test::run_process(argv, {{"WORKOS_API_KEY", "sk_test_x"}});
        SCOPED_TRACE(argv[1]);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find("--dry-run does not work on a PostgreSQL mirror"), std::string::npos)
            << r.err;
        EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
        EXPECT_NE(r.err.find("***"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists("postgresql:")) << "no directory made of the URL";
}
