#include "store/event_store.hpp"

#include "store/event_applier.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/Savepoint.h>
#include <fmt/format.h>

#include <sqlite3.h>

namespace dirsync::store {
using namespace sql;

namespace {

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
    , applier_(std::make_unique<EventApplier>(db))
{
}

EventStore::~EventStore() = default;

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

EventPageResult EventStore::apply_page(std::span<EventPage::Item const> items,
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
        if (ev.kind == EventKind::unknown) {
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
        if (ev.kind == EventKind::directory_activated ||
            ev.kind == EventKind::directory_deactivated) {
            // The directories table holds the REST form: the caller re-reads it in a full sync.
            result.directories_to_sync.push_back(dir);
            ++result.applied;
            continue;
        }
        auto const target = applier_->target_of(dir);
        if (target == Target::none) {
            if (ev.kind != EventKind::directory_deleted)
                result.directories_to_sync.push_back(dir);
            ++result.skipped;
            continue;
        }
        try {
            SQLite::Savepoint one(db_, "event");
            bool const changed = applier_->apply(ev, target, now);
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
