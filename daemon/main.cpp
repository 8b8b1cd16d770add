// dirsyncd: command line and config -> objects -> io_context -> exit code. Only wiring here.
#include "api/api_client.hpp"
#include "check_config.hpp"
#include "control_command.hpp"
#include "database_owner.hpp"
#include "database_watch.hpp"
#include "dry_run.hpp"
#include "exit_codes.hpp"
#include "http/beast_transport.hpp"
#include "instance_lock.hpp"
#include "logging.hpp"
#include "pg/conninfo.hpp"
#include "run_daemon.hpp"
#include "run_daemon_postgres.hpp"
#include "run_once.hpp"
#include "run_once_postgres.hpp"
#include "settings/command_line.hpp"
#include "settings/settings.hpp"
#include "status_command.hpp"
#include "store/database.hpp"
#include "store/event_store.hpp"
#include "store/mirror_store.hpp"

#include <SQLiteCpp/Database.h>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <iostream>

extern char** environ;

namespace {

using namespace dirsync;
using namespace dirsync::daemon;

int fail(int code, std::string const& message)
{
    std::cerr << "dirsyncd: " << message << std::endl;
    return code;
}

std::map<std::string, std::string> environment()
{
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos)
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return env;
}

// The config file with the command line on top; throws SettingsError.
settings::Settings load(settings::CommandLine const& cl)
{
    settings::Settings cfg;
    if (cl.config)
        cfg = settings::load_settings(*cl.config);
    if (cl.db)
        cfg.database = *cl.db;
    if (cl.api_url)
        cfg.api_url = *cl.api_url;
    if (cl.ca_file)
        cfg.ca_file = *cl.ca_file;
    if (cl.log_level) {
        if (!settings::is_log_level(*cl.log_level))
            throw settings::SettingsError("--log-level " +
                                          settings::not_a_log_level(*cl.log_level));
        cfg.log_level = *cl.log_level;
    }
    cfg.sync.directory.allow_deletions = cl.allow_deletions;
    // Here, where the config and --db meet, so that every subcommand (status, check-config,
    // reload) says it, and never by a missing directory called "postgresql:".
    bool const supported = !cl.dry_run;
    if (pg::is_postgres_target(cfg.database) && !supported)
        throw settings::SettingsError(fmt::format(
            "database {}: --dry-run does not work on a PostgreSQL mirror in this version (daemon "
            "mode, --once, status, check-config, reload and the operator subcommands do); give "
            "the path of an SQLite file for it",
            pg::redacted(cfg.database)));
    return cfg;
}

// SIGHUP in daemon mode on PostgreSQL: the new settings and API key, or why not.
Reloader reloader(settings::CommandLine const& cl, std::shared_ptr<spdlog::logger> const& log)
{
    return [&cl, log]() -> std::variant<Reloaded, std::string> {
        try {
            auto fresh = load(cl);
            auto key = settings::resolve_api_key(fresh, environment(),
                                                 [&](std::string const& w) { log->warn("{}", w); });
            return Reloaded{std::move(fresh), std::move(key)};
        } catch (settings::SettingsError const& e) {
            return std::string(e.what());
        }
    };
}

int run(settings::CommandLine const& cl)
{
    settings::Settings cfg;
    try {
        cfg = load(cl);
    } catch (settings::SettingsError const& e) {
        return fail(exit_usage, e.what());
    }
    if (cl.subcommand == settings::Subcommand::status)
        return pg::is_postgres_target(cfg.database)
                   ? run_status_postgres(cfg.database, cfg.database_schema, cl.json)
                   : run_status(cfg.database, cl.json);
    bool const control = settings::is_control(cl.subcommand);
    bool const postgres = pg::is_postgres_target(cfg.database);
    auto const shown = postgres ? pg::redacted(cfg.database) : cfg.database;
    if (control) {
        // The running daemon does the work; without one, this command does (as --once would).
        if (auto code = steer_running_daemon(cl, control_socket_path(cfg)))
            return *code;
        if (!postgres) // PostgreSQL: the server's roles decide who may write
            if (auto denied = may_steer_without_daemon(cfg.database))
                return fail(exit_usage, *denied);
    }
    std::string why;
    auto url = parse_api_url(cfg.api_url, why);
    if (!url)
        return fail(exit_usage, fmt::format("API URL '{}': {}", cfg.api_url, why));

    auto log = make_logger(cfg.log_level, cl.dry_run);
    std::string api_key;
    try {
        api_key = settings::resolve_api_key(cfg, environment(),
                                            [&](std::string const& w) { log->warn("{}", w); });
    } catch (settings::SettingsError const& e) {
        return fail(exit_usage, e.what());
    }
    if (!url->is_tls())
        log->warn("talking plain http to {}: only for tests against a local server", url->host);
    if (cl.subcommand == settings::Subcommand::check_config)
        return check_config(cfg, cl.config, *url, api_key, cl.online);
    if (cl.subcommand == settings::Subcommand::reload) {
        std::cout << "configuration accepted; no daemon runs on " << shown
                  << ": it takes effect when the daemon starts" << std::endl;
        return exit_ok;
    }
    if (control)
        log->info("dirsyncd {}: no daemon runs on {}; doing it here",
                  settings::subcommand_name(cl.subcommand), shown);
    if ((cl.once || control) && !cl.dry_run && !postgres)
        if (auto error = act_as_database_owner(cfg.database))
            return fail(exit_database, *error);

    boost::asio::io_context ioc(1);
    auto transport_options = cfg.http;
    transport_options.ca_file = cfg.ca_file;
    std::unique_ptr<http::BeastTransport> transport;
    try {
        transport = std::make_unique<http::BeastTransport>(ioc.get_executor(), *url,
                                                           transport_options, *log);
    } catch (boost::system::system_error const& e) {
        return fail(exit_usage,
                    cfg.ca_file ? fmt::format("CA file {}: {}", *cfg.ca_file, e.code().message())
                                : fmt::format("TLS set-up: {}", e.code().message()));
    }
    api::RateLimiter limiter(ioc.get_executor(), cfg.rate_limits);
    api::ApiClient api(ioc.get_executor(), *transport, limiter,
                       {api_key, "dirsyncd/" DIRSYNCD_VERSION, cfg.retry}, *log);
    if (cl.dry_run) // reads the mirror only: no lock, so it runs beside the daemon
        return run_dry_run(ioc, api, *log, cfg, cl.directories, cl.json);
    if (pg::is_postgres_target(cfg.database)) { // load() refuses the modes not built yet
        if (cl.once || control)
            return run_once_postgres(ioc, api, *log, cfg, environment(),
                                     control ? std::optional(operator_request_of(cl))
                                             : std::nullopt);
        return run_daemon_postgres(ioc, {api, *transport, *log}, cfg, environment(),
                                   reloader(cl, log));
    }

    // The lock before the database: a second instance racing the first must be told so (exit
    // 6), not fail to migrate a database the first one is migrating.
    std::optional<InstanceLock> lock;
    try {
        store::create_database_file(cfg.database);
        lock.emplace(cfg.database);
    } catch (store::StoreError const& e) {
        return fail(exit_database, e.what());
    } catch (std::runtime_error const& e) {
        return fail(exit_locked, e.what());
    }
    std::unique_ptr<store::Database> db;
    try {
        db = store::open_database(
            cfg.database,
            {cfg.busy_timeout, cfg.max_database_bytes,
             [log, path = cfg.database](auto waited, auto timeout) {
                 log->warn("database {}: another process has held a lock for {:.1f} s; waiting "
                           "up to {} s (busy_timeout_seconds); apps must only read the mirror",
                           path, std::chrono::duration<double>(waited).count(),
                           std::chrono::duration<double>(timeout).count());
             }});
    } catch (store::StoreError const& e) {
        return fail(exit_database, e.what());
    }
    if (db->migrated_from)
        log->info("database {}: schema migrated from version {} to {}", cfg.database,
                  *db->migrated_from, store::latest_schema_version());
    for (auto const& note : db->notes)
        log->info("{}", note);
    DatabaseWatch watch(cfg.database);
    store::MirrorStore store(*db);
    sync::SyncServices services{api, store, *log};

    if (control)
        return run_once(ioc, services, cfg.sync, cfg.api_url, &watch, operator_request_of(cl));
    if (!cl.once) {
        log->info("dirsyncd {}: mirroring into {} from {}", DIRSYNCD_VERSION, cfg.database,
                  cfg.api_url);
        store::EventStore events(*db);
        // SIGHUP: the new settings, and at once the database size cap (say, raised after the
        // cap was reached).
        auto reload = [&cl, &log, &db]() -> std::variant<Reloaded, std::string> {
            try {
                auto fresh = load(cl);
                auto key = settings::resolve_api_key(
                    fresh, environment(), [&](std::string const& w) { log->warn("{}", w); });
                store::limit_database_size(*db, fresh.max_database_bytes);
                return Reloaded{std::move(fresh), std::move(key)};
            } catch (settings::SettingsError const& e) {
                return std::string(e.what());
            } catch (SQLite::Exception const& e) {
                return "database: " + store::describe_database_error(e);
            }
        };
        return run_daemon(ioc, {services, events, *transport, watch, *db}, cfg, reload);
    }
    log->info("dirsyncd {} --once: mirroring into {} from {}", DIRSYNCD_VERSION, cfg.database,
              cfg.api_url);
    return run_once(ioc, services, cfg.sync, cfg.api_url, &watch);
}

} // namespace

int main(int argc, char** argv)
{
    auto parsed = settings::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
    if (auto const* error = std::get_if<std::string>(&parsed))
        return fail(exit_usage, *error + " (see dirsyncd --help)");
    auto const& cl = std::get<settings::CommandLine>(parsed);
    if (cl.help) {
        std::cout << settings::usage_text();
        return exit_ok;
    }
    if (cl.version) {
        std::cout << "dirsyncd " << DIRSYNCD_VERSION << std::endl;
        return exit_ok;
    }
    try {
        return run(cl);
    } catch (std::exception const& e) {
        return fail(exit_sync_failed, e.what());
    }
}
