#include "run_once_postgres.hpp"

#include "exit_codes.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/mirror_store.hpp"
#include "pg/schema.hpp"
#include "pg/writer_lease.hpp"
#include "run_once.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

namespace dirsync::daemon {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

int fail(spdlog::logger& log, int code, std::string const& message)
{
    log.critical("{}", message);
    std::cerr << "dirsyncd: " << message << std::endl;
    return code;
}

// Confirms the lease more often than the server's idle timeout would end the session, while
// the sync waits on the API between its writes. Throws when the lease is gone: from then on
// another dirsyncd may be the writer, and this one must not write a row more.
asio::awaitable<void> keep_lease(pg::WriterLease& lease, std::chrono::milliseconds every,
                                 std::string where)
{
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_after(every);
        co_await timer.async_wait(asio::use_awaitable);
        bool confirmed = false;
        try {
            confirmed = lease.confirm();
        } catch (pg::Error const&) {
        }
        if (!confirmed)
            throw pg::Error(fmt::format("{}: lost the writer lease (the server ended this "
                                        "session); stopped so as never to be a second writer: "
                                        "run again",
                                        where),
                            "", true);
    }
}

} // namespace

int run_once_postgres(asio::io_context& ioc, api::ApiClient& api, spdlog::logger& log,
                      settings::Settings const& cfg,
                      std::map<std::string, std::string> const& environment)
{
    auto const where =
        fmt::format("database {} (schema {})", pg::redacted(cfg.database), cfg.database_schema);
    if (auto file = pg::password_file_from_credentials(environment)) {
        ::setenv("PGPASSFILE", file->c_str(), 1); // libpq reads it when the URL has no password
        log.info("{}: the password file is the systemd credential pgpass", where);
    }
    std::unique_ptr<pg::Connection> db;
    try {
        db = std::make_unique<pg::Connection>(cfg.database);
    } catch (pg::Error const& e) {
        return fail(log, exit_database, fmt::format("{}: {}", where, e.what()));
    }
    try {
        auto const m = pg::migrate_schema(*db, cfg.database_schema);
        if (!m.from)
            log.info("{}: schema created at version {}", where, m.to);
        else if (m.changed())
            log.info("{}: schema migrated from version {} to {}", where, *m.from, m.to);
    } catch (std::exception const& e) { // pg::SchemaError, pg::Error
        return fail(log, exit_database, fmt::format("{}: {}", where, e.what()));
    }

    // The server ends a session idle this long (a writer paused or cut off), so that a standby
    // takes over within 2 x poll_interval; the keepalive confirms four times as often.
    auto const idle = std::max<std::chrono::milliseconds>(2 * cfg.poll_interval, 2s);
    std::unique_ptr<pg::WriterLease> lease;
    try {
        lease = std::make_unique<pg::WriterLease>(*db, cfg.database_schema, idle);
        if (!lease->try_acquire())
            return fail(log, exit_locked,
                        fmt::format("{}: another dirsyncd is the writer of this schema (it holds "
                                    "the writer lease); a second one would write beside it: "
                                    "stop it, or let it do the sync",
                                    where));
    } catch (pg::Error const& e) {
        return fail(log, exit_database, fmt::format("{}: {}", where, e.what()));
    }
    log.info("dirsyncd --once: mirroring into {} from {}, this session the writer", where,
             cfg.api_url);

    pg::MirrorStore store(*db);
    sync::SyncServices services{api, store, log};
    int const code = run_once(ioc, services, cfg.sync, cfg.api_url, nullptr, std::nullopt,
                              [&] { return keep_lease(*lease, idle / 4, where); });
    try {
        if (db->alive())
            lease->release();
    } catch (pg::Error const&) { // the session's end releases it too
    }
    return code;
}

} // namespace dirsync::daemon
