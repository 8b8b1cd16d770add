#include "run_once_postgres.hpp"

#include "exit_codes.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/mirror_store.hpp"
#include "pg/schema.hpp"
#include "pg/writer_lease.hpp"
#include "postgres_session.hpp"
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

} // namespace

int run_once_postgres(asio::io_context& ioc, api::ApiClient& api, spdlog::logger& log,
                      settings::Settings const& cfg,
                      std::map<std::string, std::string> const& environment,
                      std::optional<sync::OperatorRequest> request)
{
    auto const where = postgres_where(cfg.database, cfg.database_schema);
    use_password_credential(environment, log, where);
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

    // The keepalive confirms the lease four times per idle timeout.
    auto const idle = lease_idle_timeout(cfg.poll_interval);
    std::unique_ptr<pg::WriterLease> lease;
    try {
        lease = std::make_unique<pg::WriterLease>(*db, cfg.database_schema, idle);
        if (!lease->try_acquire())
            return fail(log, exit_locked,
                        fmt::format("{}: another dirsyncd is the writer of this schema (it holds "
                                    "the writer lease); a second one would write beside it: {}",
                                    where,
                                    request ? "run the command on the writer's host (dirsyncd "
                                              "status names its pid)"
                                            : "stop it, or let it do the sync"));
    } catch (pg::Error const& e) {
        return fail(log, exit_database, fmt::format("{}: {}", where, e.what()));
    }
    log.info("dirsyncd --once: mirroring into {} from {}, this session the writer", where,
             cfg.api_url);

    pg::MirrorStore store(*db);
    sync::SyncServices services{api, store, log};
    int const code = run_once(ioc, services, cfg.sync, cfg.api_url, nullptr, std::move(request),
                              [&] { return keep_lease(*lease, idle / 4, where); });
    try {
        if (db->alive())
            lease->release();
    } catch (pg::Error const&) { // the session's end releases it too
    }
    return code;
}

} // namespace dirsync::daemon
