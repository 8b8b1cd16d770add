#include "status_command.hpp"

#include "exit_codes.hpp"
#include "model/timestamp.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/schema.hpp"
#include "pg/status_report.hpp"
#include "store/status_report.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sys/stat.h>

namespace dirsync::daemon {
namespace json = boost::json;

namespace {

// A pid is our daemon while a process of that pid runs and (where /proc tells) is dirsyncd: a
// pid left behind by a crash may have been reused.
bool daemon_running(std::optional<std::int64_t> pid)
{
    if (!pid || *pid <= 0)
        return false;
    if (::kill(static_cast<pid_t>(*pid), 0) != 0 && errno != EPERM)
        return false;
    std::ifstream comm(fmt::format("/proc/{}/comm", *pid));
    std::string name;
    if (comm && std::getline(comm, name))
        return name.rfind("dirsyncd", 0) == 0;
    return true;
}

// How long ago an RFC 3339 time was, in seconds; nullopt for none.
std::optional<double> age_seconds(std::optional<std::string> const& at)
{
    if (!at)
        return std::nullopt;
    auto const micros = parse_timestamp(*at);
    if (!micros)
        return std::nullopt;
    return static_cast<double>(now_micros() - *micros) / 1e6;
}

std::string age_text(std::optional<std::string> const& at)
{
    auto const age = age_seconds(at);
    if (!age)
        return "never";
    if (*age < 120)
        return fmt::format("{:.0f} s ago", *age);
    if (*age < 7200)
        return fmt::format("{:.0f} min ago", *age / 60);
    return fmt::format("{:.1f} h ago", *age / 3600);
}

// Why the daemon is stale, when it runs and its last recorded caught-up poll (or its start, before
// the first) is older than three poll intervals plus the status heartbeat: an idle daemon records a
// caught-up poll only once per heartbeat, so the recorded time lags the real one by up to that.
std::optional<std::string> staleness(store::StatusReport const& r, bool running)
{
    if (!running)
        return std::nullopt;
    double const limit =
        3 * r.poll_interval_seconds.value_or(10) + r.status_heartbeat_seconds.value_or(60);
    auto const since = r.caught_up_at ? r.caught_up_at : r.daemon_started_at;
    auto const age = age_seconds(since);
    if (age && *age <= limit)
        return std::nullopt;
    return fmt::format("the daemon has not caught up with the event stream for {} (limit 3 poll "
                       "intervals plus the status heartbeat, {:.0f} s)",
                       age ? fmt::format("{:.0f} s", *age) : "ever", limit);
}

json::value text_or_null(std::optional<std::string> const& v)
{
    return v ? json::value(*v) : json::value(nullptr);
}

std::string to_json(std::string const& database, store::StatusReport const& r, bool running,
                    std::optional<std::string> const& stale)
{
    json::array dirs;
    for (auto const& d : r.directories)
        dirs.push_back(json::object{
            {"id", d.id},
            {"name", text_or_null(d.name)},
            {"organization_id", text_or_null(d.organization_id)},
            {"state", d.state},
            {"users", d.users},
            {"groups", d.groups},
            {"memberships", d.memberships},
            {"membership_strategy", text_or_null(d.membership_strategy)},
            {"last_full_sync_started_at", text_or_null(d.last_full_sync_started_at)},
            {"last_full_sync_finished_at", text_or_null(d.last_full_sync_finished_at)},
            {"last_event_at", text_or_null(d.last_event_at)},
            {"held_reason", text_or_null(d.held_reason)},
            {"last_error", text_or_null(d.last_error)},
            {"last_error_at", text_or_null(d.last_error_at)},
        });
    json::object out{
        {"version", DIRSYNCD_VERSION},
        {"database", database},
        {"state", r.state},
        {"daemon",
         json::object{
             {"running", running},
             {"pid", running ? json::value(*r.daemon_pid) : json::value(nullptr)},
             {"started_at", text_or_null(r.daemon_started_at)},
             {"caught_up_at", text_or_null(r.caught_up_at)},
             {"last_event_at", text_or_null(r.last_event_at)},
             {"last_error", text_or_null(r.last_error)},
             {"stale", stale ? json::value(*stale) : json::value(nullptr)},
         }},
        {"changes", json::object{{"min_seq", r.min_seq}, {"max_seq", r.max_seq}}},
        {"schema_version", r.schema_version},
        {"quarantined_events", r.quarantined_events},
        {"directories", std::move(dirs)},
    };
    if (r.writer_lease_held) { // PostgreSQL
        json::array standbys;
        for (auto const& sb : r.standbys)
            standbys.push_back(json::object{{"host", sb.host},
                                            {"pid", sb.pid},
                                            {"since", text_or_null(sb.since)},
                                            {"seen_at", text_or_null(sb.seen_at)}});
        out["standbys"] = std::move(standbys);
    }
    return json::serialize(out);
}

void print_text(std::string const& database, store::StatusReport const& r, bool running,
                std::optional<std::string> const& stale)
{
    auto const opt = [](std::optional<std::string> const& v) { return v.value_or("-"); };
    std::cout << fmt::format("database {} (schema {}): {}\n", database, r.schema_version, r.state);
    std::cout << fmt::format(
        "daemon: {}; last caught up {}; newest event {}{}{}\n",
        running ? fmt::format("running, pid {}, since {}", *r.daemon_pid, opt(r.daemon_started_at))
                : "not running",
        age_text(r.caught_up_at), opt(r.last_event_at),
        r.last_error
            ? fmt::format("; event stream error at {}: {}", opt(r.last_error_at), *r.last_error)
            : "",
        stale ? "; STALE: " + *stale : "");
    std::cout << fmt::format("changes: seq {} to {}; quarantined events: {}\n", r.min_seq,
                             r.max_seq, r.quarantined_events);
    for (auto const& d : r.directories) {
        std::cout << fmt::format("directory {} ({}), organization {}: {}\n", opt(d.name), d.id,
                                 opt(d.organization_id), d.state);
        std::cout << fmt::format("  {} users, {} groups, {} memberships; memberships {}; last "
                                 "full sync {}; caught up {}\n",
                                 d.users, d.groups, d.memberships, opt(d.membership_strategy),
                                 opt(d.last_full_sync_finished_at), age_text(d.caught_up_at));
        if (d.held_reason)
            std::cout << fmt::format("  held: {}\n", *d.held_reason);
        if (d.last_error)
            std::cout << fmt::format("  last error at {}: {}\n", opt(d.last_error_at),
                                     *d.last_error);
    }
    if (r.directories.empty())
        std::cout << "no directory mirrored yet\n";
    for (auto const& sb : r.standbys)
        std::cout << fmt::format("standby: dirsyncd on {}, pid {}, waiting since {}; last try {}\n",
                                 sb.host, sb.pid, opt(sb.since), age_text(sb.seen_at));
}

int report_status(std::string const& database, store::StatusReport const& report, bool running,
                  bool json)
{
    auto const stale = staleness(report, running);
    if (json)
        std::cout << to_json(database, report, running, stale) << std::endl;
    else
        print_text(database, report, running, stale);
    // A resync in progress is fine (the mirror is complete meanwhile); a first one is not yet.
    bool healthy = !report.directories.empty() && !stale;
    for (auto const& d : report.directories)
        healthy =
            healthy && (d.state == "ok" || (d.state == "syncing" && d.last_full_sync_finished_at));
    return healthy ? exit_ok : exit_sync_failed;
}

} // namespace

int run_status(std::string const& database, bool json)
{
    store::StatusReport report;
    try {
        struct stat st {};
        if (::stat(database.c_str(), &st) != 0)
            throw std::runtime_error(fmt::format("{}: {}", database, std::strerror(errno)));
        // Read-only, never creating anything: a reader-group user can run this.
        SQLite::Database db("file:" + database + "?mode=ro",
                            SQLite::OPEN_READONLY | SQLite::OPEN_URI, 5000);
        auto const version = db.execAndGet("PRAGMA user_version").getInt();
        if (version < 5)
            throw std::runtime_error(fmt::format(
                "{} has schema version {}, without mirror_status; run this dirsyncd once to "
                "upgrade it",
                database, version));
        report = store::read_status(db);
    } catch (std::exception const& e) {
        std::cerr << "dirsyncd status: cannot read the database: " << e.what() << std::endl;
        return exit_database;
    }
    return report_status(database, report, daemon_running(report.daemon_pid), json);
}

int run_status_postgres(std::string const& conninfo, std::string const& schema, bool json)
{
    store::StatusReport report;
    auto const where = fmt::format("{} in schema {}", pg::redacted(conninfo), schema);
    try {
        // Plain SELECTs in one read-only snapshot: a reader role's rights suffice.
        pg::Connection db(conninfo);
        pg::use_schema(db, schema);
        report = pg::read_status(db);
    } catch (std::exception const& e) { // pg::Error, pg::SchemaError
        std::cerr << "dirsyncd status: cannot read the database " << where << ": " << e.what()
                  << std::endl;
        return exit_database;
    }
    // The writer may be on another host: it runs while its session holds the lease.
    bool const running = report.daemon_pid && report.writer_lease_held.value_or(false);
    return report_status(where, report, running, json);
}

} // namespace dirsync::daemon
