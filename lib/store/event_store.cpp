#include "store/event_store.hpp"

#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/Savepoint.h>
#include <fmt/format.h>

#include <sqlite3.h>

namespace dirsync::store {
using namespace sql;
using decode::Event;
using decode::MembershipEvent;
using decode::RejectedEvent;

namespace {

// Where an event of a directory lands: the live tables of a mirrored directory, the staging
// tables of a directory whose first full sync is in progress, or nowhere.
enum class Target { live, staging, none };

Target target_of(SQLite::Database& db, std::string const& directory_id)
{
    SQLite::Statement live(db, "SELECT 1 FROM directories WHERE id = :dir");
    live.bind(":dir", directory_id);
    if (live.executeStep())
        return Target::live;
    SQLite::Statement staging(db, "SELECT 1 FROM staging_runs WHERE directory_id = :dir");
    staging.bind(":dir", directory_id);
    return staging.executeStep() ? Target::staging : Target::none;
}

bool tombstoned(SQLite::Database& db, char const* entity, std::string const& id,
                std::int64_t updated_at_us)
{
    SQLite::Statement q(db, "SELECT 1 FROM tombstones WHERE entity = :e AND id = :id AND "
                            "updated_at_us >= :us");
    q.bind(":e", entity);
    q.bind(":id", id);
    q.bind(":us", updated_at_us);
    return q.executeStep();
}

// Upserts a user or group into the live or staging table, newer wins. Returns true when a row
// changed; records the change for the live table.
template <class T>
bool upsert(SQLite::Database& db, EntityTable const& t, Target target, T const& item,
            std::string const& now)
{
    if (tombstoned(db, t.entity, item.id, item.updated_at.micros))
        return false;
    char const* table = target == Target::live ? t.live : t.staged;
    SQLite::Statement st(db, fmt::format("INSERT INTO {0} ({1}) VALUES ({2}) ON CONFLICT (id) DO "
                                         "UPDATE SET {3} WHERE {0}.raw_json IS NULL OR "
                                         "({0}.raw_json IS NOT excluded.raw_json AND "
                                         "excluded.updated_at_us >= {0}.updated_at_us)",
                                         table, column_list(t.columns, ""),
                                         column_list(t.columns, ":"), update_list(t.columns)));
    if constexpr (std::is_same_v<T, User>)
        bind_user(st, item);
    else
        bind_group(st, item);
    if (st.exec() == 0)
        return false;
    if (target == Target::live)
        record_change(db, now, item.directory_id, t.entity, item.id, "upsert");
    return true;
}

void add_tombstone(SQLite::Database& db, char const* entity, std::string const& id,
                   std::string const& directory_id, std::int64_t updated_at_us,
                   std::string const& now)
{
    SQLite::Statement st(db, "INSERT INTO tombstones (entity, id, directory_id, updated_at_us, "
                             "deleted_at) VALUES (:e, :id, :dir, :us, :now) ON CONFLICT (entity, "
                             "id) DO UPDATE SET updated_at_us = MAX(updated_at_us, "
                             "excluded.updated_at_us), deleted_at = excluded.deleted_at");
    st.bind(":e", entity);
    st.bind(":id", id);
    st.bind(":dir", directory_id);
    st.bind(":us", updated_at_us);
    st.bind(":now", now);
    st.exec();
}

// Deletes a user or group with its memberships. Returns true when something was deleted.
template <class T>
bool remove(SQLite::Database& db, EntityTable const& t, Target target, T const& item,
            std::string const& now)
{
    add_tombstone(db, t.entity, item.id, item.directory_id, item.updated_at.micros, now);
    bool const is_user = std::is_same_v<T, User>;
    char const* member_column = is_user ? "user_id" : "group_id";
    if (target == Target::staging) {
        SQLite::Statement members(
            db, fmt::format("DELETE FROM staged_memberships WHERE {} = :id", member_column));
        members.bind(":id", item.id);
        members.exec();
        SQLite::Statement row(db, fmt::format("DELETE FROM {} WHERE id = :id", t.staged));
        row.bind(":id", item.id);
        return row.exec() > 0;
    }
    SQLite::Statement changes(
        db, fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                        "SELECT :now, directory_id, 'membership', user_id || ':' || group_id, "
                        "'delete' FROM memberships WHERE {} = :id ORDER BY user_id, group_id",
                        member_column));
    changes.bind(":now", now);
    changes.bind(":id", item.id);
    changes.exec();
    SQLite::Statement members(db,
                              fmt::format("DELETE FROM memberships WHERE {} = :id", member_column));
    members.bind(":id", item.id);
    members.exec();
    SQLite::Statement row(db, fmt::format("DELETE FROM {} WHERE id = :id", t.live));
    row.bind(":id", item.id);
    if (row.exec() == 0)
        return false;
    record_change(db, now, item.directory_id, t.entity, item.id, "delete");
    return true;
}

bool exists(SQLite::Database& db, char const* table, std::string const& id)
{
    SQLite::Statement q(db, fmt::format("SELECT 1 FROM {} WHERE id = :id", table));
    q.bind(":id", id);
    return q.executeStep();
}

bool membership(SQLite::Database& db, Target target, MembershipEvent const& m, bool add,
                std::string const& now)
{
    bool const live = target == Target::live;
    if (add) {
        // Never a membership whose user or group is missing (deleted, or tombstoned).
        if (!exists(db, live ? "users" : "staged_users", m.user.id) ||
            !exists(db, live ? "groups" : "staged_groups", m.group.id))
            return false;
        SQLite::Statement ins(
            db, fmt::format("INSERT OR IGNORE INTO {} (user_id, group_id, directory_id) VALUES "
                            "(:user, :group, :dir)",
                            live ? "memberships" : "staged_memberships"));
        ins.bind(":user", m.user.id);
        ins.bind(":group", m.group.id);
        ins.bind(":dir", m.directory_id);
        if (ins.exec() == 0)
            return false;
    } else {
        SQLite::Statement del(db, fmt::format("DELETE FROM {} WHERE user_id = :user AND "
                                              "group_id = :group",
                                              live ? "memberships" : "staged_memberships"));
        del.bind(":user", m.user.id);
        del.bind(":group", m.group.id);
        if (del.exec() == 0)
            return false;
    }
    if (live)
        record_change(db, now, m.directory_id, "membership", m.user.id + ":" + m.group.id,
                      add ? "upsert" : "delete");
    return true;
}

std::optional<std::string> organization_of(Event const& ev)
{
    if (auto const* u = std::get_if<User>(&ev.payload))
        return u->organization_id;
    if (auto const* g = std::get_if<Group>(&ev.payload))
        return g->organization_id;
    if (auto const* d = std::get_if<Directory>(&ev.payload))
        return d->organization_id;
    if (auto const* m = std::get_if<MembershipEvent>(&ev.payload))
        return m->group.organization_id ? m->group.organization_id : m->user.organization_id;
    return std::nullopt;
}

// Applies one decoded event; returns true when the mirror changed.
bool apply(SQLite::Database& db, Event const& ev, Target target, std::string const& now)
{
    auto const& type = ev.type;
    if (type == "dsync.deleted") {
        auto const& d = std::get<Directory>(ev.payload);
        add_tombstone(db, "directory", d.id, d.id, d.updated_at.micros, now);
        return delete_directory_rows(db, d.id, now);
    }
    if (auto const* u = std::get_if<User>(&ev.payload)) {
        if (type == "dsync.user.deleted")
            return remove(db, users_table, target, *u, now);
        return upsert(db, users_table, target, *u, now);
    }
    if (auto const* g = std::get_if<Group>(&ev.payload)) {
        if (type == "dsync.group.deleted")
            return remove(db, groups_table, target, *g, now);
        return upsert(db, groups_table, target, *g, now);
    }
    if (auto const* m = std::get_if<MembershipEvent>(&ev.payload)) {
        // The payload's snapshots are as good as any: upsert them (newer wins), so that a
        // membership event that arrives before user.created still has both ends.
        bool changed = upsert(db, users_table, target, m->user, now);
        changed |= upsert(db, groups_table, target, m->group, now);
        changed |= membership(db, target, *m, type == "dsync.group.user_added", now);
        return changed;
    }
    return false;
}

void quarantine(SQLite::Database& db, RejectedEvent const& bad, std::string const& reason,
                std::string const& now)
{
    SQLite::Statement st(db, "INSERT INTO quarantined_events (event_id, event_type, reason, "
                             "raw_json, quarantined_at) VALUES (:id, :type, :reason, :raw, :now)");
    bind_opt(st, ":id", bad.id);
    st.bind(":type", bad.type);
    st.bind(":reason", reason);
    st.bind(":raw", bad.raw_json);
    st.bind(":now", now);
    st.exec();
}

} // namespace

EventStore::EventStore(SQLite::Database& db)
    : db_(db)
{
}

std::optional<StreamPosition> EventStore::load_position()
{
    SQLite::Statement q(db_, "SELECT cursor, cursor_created_at, range_start FROM event_stream "
                             "WHERE id = 1");
    if (!q.executeStep())
        return std::nullopt;
    auto opt = [&q](int i) { return optional_text(q, i); };
    return StreamPosition{opt(0), opt(1), opt(2)};
}

void EventStore::restart_stream(std::string const& range_start, std::string const& now)
{
    SQLite::Statement st(db_, "INSERT INTO event_stream (id, cursor, cursor_created_at, "
                              "range_start, updated_at) VALUES (1, NULL, NULL, :start, :now) "
                              "ON CONFLICT (id) DO UPDATE SET cursor = NULL, "
                              "cursor_created_at = NULL, range_start = excluded.range_start, "
                              "updated_at = excluded.updated_at");
    st.bind(":start", range_start);
    st.bind(":now", now);
    st.exec();
}

EventPageResult EventStore::apply_page(std::span<decode::EventPage::Item const> items,
                                       ScopeFilter const& in_scope, std::string const& now)
{
    EventPageResult result;
    std::optional<std::string> cursor_created_at;
    sql::WriteTransaction tx(db_);
    for (auto const& item : items) {
        if (auto const* bad = std::get_if<RejectedEvent>(&item)) {
            quarantine(db_, *bad, bad->reason, now);
            ++result.quarantined;
            result.notes.push_back("quarantined: " + bad->reason);
            if (bad->id)
                result.cursor = bad->id;
            continue;
        }
        auto const& ev = std::get<Event>(item);
        result.cursor = ev.id;
        cursor_created_at = ev.created_at.text;
        if (!decode::is_known_event_type(ev.type)) {
            ++result.unchanged;
            result.notes.push_back(
                fmt::format("skipped event {} of unknown type {}", ev.id, ev.type));
            continue;
        }
        if (!ev.directory_id || !in_scope(*ev.directory_id, organization_of(ev))) {
            ++result.skipped;
            continue;
        }
        auto const& dir = *ev.directory_id;
        if (ev.type == "dsync.activated" || ev.type == "dsync.deactivated") {
            // The directories table holds the REST form: the caller re-reads it in a full sync.
            result.directories_to_sync.push_back(dir);
            ++result.applied;
            continue;
        }
        auto const target = target_of(db_, dir);
        if (target == Target::none) {
            if (ev.type != "dsync.deleted")
                result.directories_to_sync.push_back(dir);
            ++result.skipped;
            continue;
        }
        try {
            SQLite::Savepoint one(db_, "event");
            bool const changed = apply(db_, ev, target, now);
            one.release();
            ++(changed ? result.applied : result.unchanged);
        } catch (SQLite::Exception const& e) {
            // A constraint the event violates is a poison event; a busy or full database is
            // not, and must fail the page so that it is retried.
            auto const code = e.getErrorCode();
            if (code != SQLITE_CONSTRAINT && code != SQLITE_MISMATCH && code != SQLITE_TOOBIG)
                throw;
            RejectedEvent bad{ev.id, ev.type, fmt::format("cannot be applied: {}", e.what()), ""};
            quarantine(db_, bad, bad.reason, now);
            ++result.quarantined;
            result.notes.push_back(fmt::format("quarantined event {}: {}", ev.id, bad.reason));
        }
    }
    if (result.cursor) {
        SQLite::Statement st(db_, "INSERT INTO event_stream (id, cursor, cursor_created_at, "
                                  "range_start, updated_at) VALUES (1, :cursor, :created, NULL, "
                                  ":now) ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, "
                                  "cursor_created_at = COALESCE(excluded.cursor_created_at, "
                                  "event_stream.cursor_created_at), updated_at = "
                                  "excluded.updated_at");
        st.bind(":cursor", *result.cursor);
        bind_opt(st, ":created", cursor_created_at);
        st.bind(":now", now);
        st.exec();
    }
    tx.commit();
    return result;
}

int EventStore::prune(std::string const& cutoff, int batch)
{
    int removed = 0;
    for (char const* statement :
         {"DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE changed_at < :cutoff "
          "ORDER BY seq LIMIT :batch)",
          "DELETE FROM tombstones WHERE (entity, id) IN (SELECT entity, id FROM tombstones WHERE "
          "deleted_at < :cutoff LIMIT :batch)"}) {
        SQLite::Statement st(db_, statement);
        st.bind(":cutoff", cutoff);
        st.bind(":batch", batch);
        removed += st.exec();
    }
    return removed;
}

std::int64_t EventStore::quarantined_count()
{
    return db_.execAndGet("SELECT COUNT(*) FROM quarantined_events").getInt64();
}

} // namespace dirsync::store
