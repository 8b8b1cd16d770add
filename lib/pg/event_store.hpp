// The event stream's writes into the PostgreSQL mirror, with the guarantees of
// lib/store/event_store for SQLite: each page is applied in one transaction together with the
// cursor that covers it and the NOTIFY of its changes, so that after a crash, a lost connection
// or a takeover by a standby no event is lost and none is half-applied. Unlike SQLite's, the
// staging of a directory in its first sync is in the same database, so the whole page is one
// transaction.
#pragma once

#include "model/event.hpp"
#include "pg/change_feed.hpp"
#include "pg/connection.hpp"
#include "pg/event_applier.hpp"
#include "store/event_page.hpp"
#include "store/event_writer.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace dirsync::pg {

class EventStore final : public store::EventWriter {
public:
    // `db` has the mirror's schema on its search_path (migrate_schema or use_schema).
    explicit EventStore(Connection& db);

    std::optional<store::StreamPosition> load_position() override;
    // Forgets the cursor: the stream restarts at `range_start` (an ISO-8601 instant).
    void restart_stream(std::string const& range_start, std::string const& now) override;

    // Applies the page in stream order in one transaction and saves the cursor (the id of its
    // last item); newer wins, tombstones keep deleted objects out, applying twice changes
    // nothing. An event the server refuses as bad data is quarantined alone and the rest of
    // its page kept; any other failure (a lost connection, a full disk) throws pg::Error and
    // leaves nothing of the page behind, so that it is retried whole.
    store::EventPageResult apply_page(std::span<EventPage::Item const> items,
                                      store::ScopeFilter const& in_scope,
                                      std::string const& now) override;

    // Deletes changes and tombstones older than `cutoff` (ISO-8601), at most `batch` rows per
    // table; returns how many rows went.
    int prune(std::string const& cutoff, int batch) override;
    std::int64_t quarantined_count() override;

private:
    // As in lib/store: a page runs without a savepoint per event (the fast path); only a page
    // that holds a poison event runs again with one per event, so that it is quarantined alone.
    enum class Isolation { page, per_event };
    store::EventPageResult write_page(std::span<EventPage::Item const> items,
                                      std::span<store::RoutedItem const> routes,
                                      std::string const& now, Isolation isolation);
    void apply_one(Event const& ev, store::Target target, std::string const& now,
                   store::EventPageResult& result, Isolation isolation);
    void quarantine(RejectedEvent const& bad, std::string const& now);
    void save_cursor(std::string const& cursor, std::optional<std::string> const& created_at,
                     std::string const& now);

    Connection& db_;
    ChangeFeed feed_;
    EventApplier applier_;
};

// Whether the server refused a statement for its data (a value it cannot store, a constraint),
// not for its own state (a full disk, a lost connection, a lock timeout): SQLSTATE classes 22,
// 23 and 54.
bool is_bad_data(Error const& e);

} // namespace dirsync::pg
