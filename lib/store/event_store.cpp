#include "store/event_store.hpp"

#include "store/daemon_status.hpp"
#include "store/database.hpp"
#include "store/event_applier.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/Savepoint.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sqlite3.h>

namespace dirsync::store {
using namespace sql;

namespace {

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
    auto const routes = route_page(items, in_scope, [this](std::string const& directory_id) {
        return applier_->target_of(directory_id);
    });
    auto const staged = [](RoutedItem const& r) {
        return r.route == Route::apply && r.target == Target::staging;
    };

    // Events of a directory in its first full sync land in the staging file, committed before
    // the page: SQLite commits the mirror's file first, so written with the cursor they could be
    // lost to a crash between the two. Applied again after a crash, they change nothing.
    EventPageResult result;
    if (std::any_of(routes.begin(), routes.end(), staged)) {
        result = in_transaction([&](Isolation isolation) {
            EventPageResult staged_result;
            for (std::size_t i = 0; i < items.size(); ++i)
                if (staged(routes[i]))
                    apply_one(std::get<Event>(items[i]), Target::staging, now, staged_result,
                              isolation);
            return staged_result;
        });
    }

    auto page = in_transaction([&](Isolation isolation) {
        auto walked = walk_page(
            items, routes,
            {.quarantine = [&](RejectedEvent const& bad) { quarantine(db_, bad, bad.reason, now); },
             .apply =
                 [&](Event const& ev, Target target, EventPageResult& r) {
                     if (target != Target::staging) // those went first
                         apply_one(ev, target, now, r, isolation);
                 }});
        record_event_times(db_, walked.times);
        if (walked.result.cursor)
            save_cursor(*walked.result.cursor, walked.cursor_created_at, now);
        return walked.result;
    });
    result.applied += page.applied;
    result.unchanged += page.unchanged;
    result.skipped += page.skipped;
    result.quarantined += page.quarantined;
    result.directories_to_sync = std::move(page.directories_to_sync);
    result.notes.insert(result.notes.end(), page.notes.begin(), page.notes.end());
    result.cursor = std::move(page.cursor);
    return result;
}

namespace {

// An event the database refused (a constraint it violates, a value too big): raised on the fast
// path, where the page runs without a savepoint per event, to run the page again with them.
struct PoisonEvent {};

bool is_poison(SQLite::Exception const& e)
{
    // A busy or full database is not the event's fault, and must fail the page so that it is
    // retried.
    auto const code = e.getErrorCode();
    return code == SQLITE_CONSTRAINT || code == SQLITE_MISMATCH || code == SQLITE_TOOBIG;
}

} // namespace

template <class Body>
EventPageResult EventStore::in_transaction(Body const& body)
{
    // A savepoint per event costs a copy of every page the event touches (the statement
    // journal), a third of the applier's time. Poison events are rare: the page runs without
    // them, and only a page that holds one runs again, each event in its own savepoint, so that
    // the poison event alone is quarantined.
    try {
        sql::WriteTransaction tx(db_);
        auto result = body(Isolation::page);
        tx.commit();
        return result;
    } catch (PoisonEvent const&) {
    } // the transaction is rolled back
    sql::WriteTransaction tx(db_);
    auto result = body(Isolation::per_event);
    tx.commit();
    return result;
}

void EventStore::save_cursor(std::string const& cursor,
                             std::optional<std::string> const& cursor_created_at,
                             std::string const& now)
{
    SQLite::Statement st(db_, "INSERT INTO event_stream (id, cursor, cursor_created_at, "
                              "range_start, updated_at) VALUES (1, :cursor, :created, NULL, "
                              ":now) ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, "
                              "cursor_created_at = COALESCE(excluded.cursor_created_at, "
                              "event_stream.cursor_created_at), updated_at = "
                              "excluded.updated_at");
    st.bind(":cursor", cursor);
    bind_opt(st, ":created", cursor_created_at);
    st.bind(":now", now);
    st.exec();
}

void EventStore::apply_one(Event const& ev, Target target, std::string const& now,
                           EventPageResult& result, Isolation isolation)
{
    if (isolation == Isolation::page) {
        try {
            ++(applier_->apply(ev, target, now) ? result.applied : result.unchanged);
        } catch (SQLite::Exception const& e) {
            if (is_poison(e))
                throw PoisonEvent{};
            throw;
        }
        return;
    }
    try {
        SQLite::Savepoint one(db_, "event");
        bool const changed = applier_->apply(ev, target, now);
        one.release();
        ++(changed ? result.applied : result.unchanged);
    } catch (SQLite::Exception const& e) {
        if (!is_poison(e))
            throw;
        RejectedEvent bad{ev.id, ev.type, fmt::format("cannot be applied: {}", e.what()), ""};
        quarantine(db_, bad, bad.reason, now);
        ++result.quarantined;
        result.notes.push_back(fmt::format("quarantined event {}: {}", ev.id, bad.reason));
    }
}

int EventStore::prune(std::string const& cutoff, int batch)
{
    int removed = 0;
    for (char const* statement :
         // seq follows time: the oldest rows are the first ones, and the scan stops at the batch
         {"DELETE FROM changes WHERE seq IN (SELECT seq FROM (SELECT seq, changed_at FROM changes "
          "ORDER BY seq LIMIT :batch) WHERE changed_at < :cutoff)",
          "DELETE FROM tombstones WHERE (entity, id) IN (SELECT entity, id FROM tombstones WHERE "
          "deleted_at < :cutoff LIMIT :batch)"}) {
        SQLite::Statement st(db_, statement);
        st.bind(":cutoff", cutoff);
        st.bind(":batch", batch);
        removed += st.exec();
    }
    if (removed > 0)
        reclaim_free_pages(db_);
    return removed;
}

std::int64_t EventStore::quarantined_count()
{
    return db_.execAndGet("SELECT COUNT(*) FROM quarantined_events").getInt64();
}

} // namespace dirsync::store
