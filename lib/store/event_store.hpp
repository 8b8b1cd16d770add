// The event stream's writes: each page of events is applied in one transaction together with the
// cursor that covers it, so that after a crash no event is lost and none is half-applied.
#pragma once

#include "model/event.hpp"
#include "store/event_page.hpp"
#include "store/event_writer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace dirsync::store {

class EventApplier;

class EventStore final : public EventWriter {
public:
    explicit EventStore(SQLite::Database& db);
    ~EventStore() override;
    EventStore(EventStore const&) = delete;
    EventStore& operator=(EventStore const&) = delete;

    std::optional<StreamPosition> load_position() override;
    // Forgets the cursor: the stream restarts at `range_start` (an ISO-8601 instant).
    void restart_stream(std::string const& range_start, std::string const& now) override;

    // Applies the page in stream order in one transaction and saves the cursor (the id of its
    // last event). User, group and membership upserts follow "newer wins"; a deleted object
    // leaves a tombstone so that a late copy cannot bring it back; applying an event twice
    // changes nothing. Events of a directory whose first full sync is in progress go to its
    // staging tables, so that the directory still appears all at once.
    EventPageResult apply_page(std::span<EventPage::Item const> items, ScopeFilter const& in_scope,
                               std::string const& now) override;

    // Deletes changes and tombstones older than `cutoff` (ISO-8601), at most `batch` rows per
    // table; returns how many rows went.
    int prune(std::string const& cutoff, int batch) override;
    std::int64_t quarantined_count() override;

private:
    // How a page's events are kept apart: all in the page's transaction (the fast path), or each
    // in its own savepoint, so that a poison event can be quarantined alone.
    enum class Isolation { page, per_event };
    template <class Body>
    EventPageResult in_transaction(Body const& body);
    void apply_one(Event const& ev, enum Target target, std::string const& now,
                   EventPageResult& result, Isolation isolation);
    void save_cursor(std::string const& cursor, std::optional<std::string> const& created_at,
                     std::string const& now);

    SQLite::Database& db_;
    std::unique_ptr<EventApplier> applier_;
};

} // namespace dirsync::store
