#include "pg/event_store.hpp"

#include "pg/mirror_rows.hpp"
#include "pg/transaction.hpp"

#include <fmt/format.h>

namespace dirsync::pg {
using store::EventPageResult;
using store::Target;

namespace {

// An event the server refused for its data, raised on the fast path to run the page again
// with a savepoint per event.
struct PoisonEvent {};

// PostgreSQL text cannot hold a NUL byte; what could not be decoded may well have one. The
// quarantine keeps the rest of it, and says where the bytes were.
std::string storable(std::string text)
{
    for (std::size_t at = text.find('\0'); at != std::string::npos; at = text.find('\0', at))
        text.replace(at, 1, "\\u0000");
    return text;
}

} // namespace

bool is_bad_data(Error const& e)
{
    auto const& s = e.sqlstate;
    return !e.connection_lost && s.size() == 5 &&
           (s.starts_with("22") || s.starts_with("23") || s.starts_with("54"));
}

EventStore::EventStore(Connection& db)
    : db_(db)
    , feed_(db)
    , applier_(db, feed_)
{
}

std::optional<store::StreamPosition> EventStore::load_position()
{
    auto const r = db_.exec(fmt::format("SELECT cursor, {}, {} FROM event_stream WHERE id = 1",
                                        iso_text("cursor_created_at"), iso_text("range_start")));
    if (r.rows() == 0)
        return std::nullopt;
    return store::StreamPosition{r.optional_text(0, 0), r.optional_text(0, 1),
                                 r.optional_text(0, 2)};
}

void EventStore::restart_stream(std::string const& range_start, std::string const& now)
{
    db_.exec("INSERT INTO event_stream (id, cursor, cursor_created_at, range_start, updated_at) "
             "VALUES (1, NULL, NULL, $1::timestamptz, $2::timestamptz) ON CONFLICT (id) DO UPDATE "
             "SET cursor = NULL, cursor_created_at = NULL, range_start = excluded.range_start, "
             "updated_at = excluded.updated_at",
             {range_start, now});
}

EventPageResult EventStore::apply_page(std::span<EventPage::Item const> items,
                                       store::ScopeFilter const& in_scope, std::string const& now)
{
    // Routed outside the page's transaction: the writer lease makes this session the only one
    // that changes which directories are mirrored or in a sync.
    auto const routes = store::route_page(items, in_scope, [this](std::string const& directory_id) {
        return applier_.target_of(directory_id);
    });
    try {
        return write_page(items, routes, now, Isolation::page);
    } catch (PoisonEvent const&) {
    } // rolled back: run it again, each event in its own savepoint
    return write_page(items, routes, now, Isolation::per_event);
}

EventPageResult EventStore::write_page(std::span<EventPage::Item const> items,
                                       std::span<store::RoutedItem const> routes,
                                       std::string const& now, Isolation isolation)
{
    try {
        Transaction tx(db_);
        auto walked = store::walk_page(
            items, routes,
            {.quarantine = [&](RejectedEvent const& bad) { quarantine(bad, now); },
             .apply = [&](Event const& ev, Target target,
                          EventPageResult& r) { apply_one(ev, target, now, r, isolation); }});
        record_event_times(db_, walked.times);
        if (walked.result.cursor)
            save_cursor(*walked.result.cursor, walked.cursor_created_at, now);
        feed_.notify_before_commit();
        tx.commit();
        return walked.result;
    } catch (...) {
        feed_.forget(); // nothing of the page was committed, nothing is announced
        throw;
    }
}

void EventStore::apply_one(Event const& ev, Target target, std::string const& now,
                           EventPageResult& result, Isolation isolation)
{
    if (isolation == Isolation::page) {
        try {
            ++(applier_.apply(ev, target, now) ? result.applied : result.unchanged);
        } catch (Error const& e) {
            if (is_bad_data(e))
                throw PoisonEvent{};
            throw;
        }
        return;
    }
    auto const mark = feed_.mark();
    db_.exec("SAVEPOINT event");
    try {
        bool const changed = applier_.apply(ev, target, now);
        db_.exec("RELEASE SAVEPOINT event");
        ++(changed ? result.applied : result.unchanged);
    } catch (Error const& e) {
        if (!is_bad_data(e))
            throw;
        db_.exec("ROLLBACK TO SAVEPOINT event");
        feed_.rewind(mark);
        RejectedEvent bad{ev.id, ev.type, fmt::format("cannot be applied: {}", e.what()), ""};
        quarantine(bad, now);
        ++result.quarantined;
        result.notes.push_back(fmt::format("quarantined event {}: {}", ev.id, bad.reason));
    }
}

void EventStore::quarantine(RejectedEvent const& bad, std::string const& now)
{
    db_.exec_prepared(
        "quarantine",
        "INSERT INTO quarantined_events (event_id, event_type, reason, raw_json, "
        "quarantined_at) VALUES ($1, $2, $3, $4, $5::timestamptz)",
        {bad.id, storable(bad.type), storable(bad.reason), storable(bad.raw_json), now});
}

void EventStore::save_cursor(std::string const& cursor,
                             std::optional<std::string> const& cursor_created_at,
                             std::string const& now)
{
    db_.exec_prepared("save_cursor",
                      "INSERT INTO event_stream (id, cursor, cursor_created_at, range_start, "
                      "updated_at) VALUES (1, $1, $2::timestamptz, NULL, $3::timestamptz) ON "
                      "CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, cursor_created_at = "
                      "COALESCE(excluded.cursor_created_at, event_stream.cursor_created_at), "
                      "updated_at = excluded.updated_at",
                      {cursor, cursor_created_at, now});
}

int EventStore::prune(std::string const& cutoff, int batch)
{
    long long removed = 0;
    for (char const* statement :
         // seq follows time: the oldest rows are the first ones, and the scan stops at the batch
         {"DELETE FROM changes WHERE seq IN (SELECT seq FROM (SELECT seq, changed_at FROM changes "
          "ORDER BY seq LIMIT $2::integer) AS oldest WHERE changed_at < $1::timestamptz)",
          "DELETE FROM tombstones WHERE (entity, id) IN (SELECT entity, id FROM tombstones WHERE "
          "deleted_at < $1::timestamptz LIMIT $2::integer)"})
        removed += db_.exec(statement, {cutoff, std::to_string(batch)}).affected();
    return static_cast<int>(removed);
}

std::int64_t EventStore::quarantined_count()
{
    return db_.exec("SELECT count(*) FROM quarantined_events").integer(0, 0);
}

} // namespace dirsync::pg
