// What the event stream writes to the mirror, whichever database holds it: store::EventStore
// (SQLite) and pg::EventStore (PostgreSQL) implement it; lib/sync and lib/sched talk to this
// interface only. Single writer: call from one thread.
#pragma once

#include "model/event.hpp"
#include "store/event_page.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace dirsync::store {

class EventWriter {
public:
    virtual ~EventWriter() = default;

    virtual std::optional<StreamPosition> load_position() = 0;
    // Forgets the cursor: the stream restarts at `range_start` (an ISO-8601 instant).
    virtual void restart_stream(std::string const& range_start, std::string const& now) = 0;
    // Applies the page in stream order in one transaction together with the cursor (the id of
    // its last item): newer wins, tombstones keep deleted objects out, applying twice changes
    // nothing, a poison event is quarantined alone.
    virtual EventPageResult apply_page(std::span<EventPage::Item const> items,
                                       ScopeFilter const& in_scope, std::string const& now) = 0;
    // Deletes changes and tombstones older than `cutoff` (ISO-8601), at most `batch` rows per
    // table; returns how many rows went.
    virtual int prune(std::string const& cutoff, int batch) = 0;
    virtual std::int64_t quarantined_count() = 0;
};

} // namespace dirsync::store
