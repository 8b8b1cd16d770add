// Applies one decoded event to the PostgreSQL mirror: newer-wins upserts, deletions with
// tombstones, memberships with both ends, as lib/store/event_applier does for SQLite. Each step
// is one prepared statement (a data-modifying WITH that also writes the tombstone, the
// resync_touched row and the changes rows), so an event costs one to three round trips to the
// server rather than one per row. Internal to lib/pg (pg::EventStore runs it in its page
// transaction).
#pragma once

#include "model/event.hpp"
#include "pg/change_feed.hpp"
#include "pg/connection.hpp"
#include "store/event_page.hpp"

#include <string>

namespace dirsync::pg {

class EventApplier {
public:
    EventApplier(Connection& db, ChangeFeed& feed)
        : db_(db)
        , feed_(feed)
    {
    }

    store::Target target_of(std::string const& directory_id);
    // Returns true when the mirror changed. Throws pg::Error.
    bool apply(Event const& ev, store::Target target, std::string const& now);

private:
    bool upsert(User const& u, store::Target target, std::string const& now);
    bool upsert(Group const& g, store::Target target, std::string const& now);
    template <class T>
    bool remove(T const& item, store::Target target, std::string const& now);
    bool membership(MembershipEvent const& m, bool add, store::Target target,
                    std::string const& now);
    // Runs a step whose result row is (rows changed, highest seq it added to changes or NULL).
    bool step(char const* name, std::string const& sql, Params const& params);

    Connection& db_;
    ChangeFeed& feed_;
};

} // namespace dirsync::pg
