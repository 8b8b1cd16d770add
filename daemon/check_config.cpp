#include "check_config.hpp"

#include "api/api_client.hpp"
#include "api/rate_limiter.hpp"
#include "exit_codes.hpp"
#include "http/beast_transport.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/writer_lease.hpp"
#include "run_once.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace dirsync::daemon {
namespace asio = boost::asio;

namespace {

// Every directory the key sees (in the configured organizations, when there are some).
asio::awaitable<std::size_t> count_directories(api::ApiClient& api,
                                               std::vector<std::string> organizations)
{
    if (organizations.empty())
        organizations.emplace_back();
    std::size_t n = 0;
    for (auto const& org : organizations) {
        std::optional<std::string> after;
        do {
            auto page = co_await api.list_directories(
                org.empty() ? std::nullopt : std::optional(org), after);
            n += page.items.size();
            after = page.after;
        } while (after);
    }
    co_return n;
}

// --online on a PostgreSQL mirror: the server answers with these credentials, and what the
// schema holds. A line to print, or a failure (exit 5) with its message.
struct DatabaseCheck {
    int code = exit_ok;
    std::string message;
};
DatabaseCheck check_postgres(settings::Settings const& s)
{
    auto const where =
        fmt::format("database {} (schema {})", pg::redacted(s.database), s.database_schema);
    try {
        pg::Connection db(s.database);
        std::string version = "not created yet (the first start creates it)";
        try {
            version = "schema version " +
                      db.exec("SELECT version FROM " + db.quote_identifier(s.database_schema) +
                              ".schema_version")
                          .text(0, 0);
        } catch (pg::Error const& e) {
            if (e.sqlstate != "42P01" && e.sqlstate != "3F000") // no such table, no such schema
                throw;
        }
        bool const writer = pg::WriterLease::taken(db, s.database_schema);
        return {exit_ok, fmt::format("{}: reachable; {}; {}", where, version,
                                     writer ? "a dirsyncd holds the writer lease"
                                            : "no dirsyncd writes it now")};
    } catch (pg::Error const& e) {
        return {exit_database, fmt::format("{}: {}", where, e.what())};
    }
}

} // namespace

int check_config(settings::Settings const& s, std::optional<std::string> const& config,
                 Url const& url, std::string const& api_key, bool online)
{
    std::string const where = config ? "config file " + *config : "built-in defaults";
    bool const postgres = pg::is_postgres_target(s.database);
    if (!online) {
        std::cout << fmt::format(
            "dirsyncd check-config: {}: OK (database {}, API {}, an API key is set)\n", where,
            postgres ? fmt::format("{}, schema {}", pg::redacted(s.database), s.database_schema)
                     : s.database,
            s.api_url);
        return exit_ok;
    }
    asio::io_context ioc(1);
    auto log = std::make_shared<spdlog::logger>("check-config",
                                                std::make_shared<spdlog::sinks::null_sink_st>());
    auto options = s.http;
    options.ca_file = s.ca_file;
    std::unique_ptr<http::BeastTransport> transport;
    try {
        transport = std::make_unique<http::BeastTransport>(ioc.get_executor(), url, options, *log);
    } catch (boost::system::system_error const& e) {
        std::cerr << fmt::format("dirsyncd: {}: {}\n",
                                 s.ca_file ? "CA file " + *s.ca_file : std::string("TLS set-up"),
                                 e.code().message());
        return exit_usage;
    }
    try {
        api::RateLimiter limiter(ioc.get_executor(), s.rate_limits);
        api::ApiClient api(ioc.get_executor(), *transport, limiter,
                           {api_key, "dirsyncd/" DIRSYNCD_VERSION, s.retry}, *log);
        auto result = asio::co_spawn(ioc, count_directories(api, s.sync.scope.organizations),
                                     asio::use_future);
        ioc.run();
        auto const n = result.get();
        std::cout << fmt::format("dirsyncd check-config: {}: OK; the API key sees {} "
                                 "director{} at {}\n",
                                 where, n, n == 1 ? "y" : "ies", s.api_url);
        if (!postgres)
            return exit_ok;
        auto const db = check_postgres(s);
        (db.code == exit_ok ? std::cout : std::cerr)
            << (db.code == exit_ok ? "dirsyncd check-config: " : "dirsyncd: ") << db.message
            << std::endl;
        return db.code;
    } catch (...) {
        auto const outcome =
            outcome_of(sync::classify_failure(std::current_exception()), s.api_url);
        std::cerr << "dirsyncd: " << outcome.message << std::endl;
        return outcome.code;
    }
}

} // namespace dirsync::daemon
