// Applies one decoded event to the mirror: newer-wins upserts, deletions with tombstones,
// memberships with both ends. Statements are prepared once. Internal to lib/store (EventStore
// owns one and runs it inside its page transaction).
#pragma once

#include "model/event.hpp"
#include "store/event_page.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <string>

namespace dirsync::store {

class EventApplier {
public:
    explicit EventApplier(SQLite::Database& db);

    Target target_of(std::string const& directory_id);
    // Returns true when the mirror changed. Throws SQLite::Exception.
    bool apply(Event const& ev, Target target, std::string const& now);

private:
    // The statements of one entity table, live or staged.
    struct TableStatements {
        // current: whether the stored row already holds this copy or a newer one (the upsert
        // would do nothing), and whether its keyed columns differ (the rekey would do
        // something); a lookup is a fraction of an upsert that finds nothing to do, and most
        // membership events carry unchanged snapshots of both ends.
        SQLite::Statement current, upsert, rekey, exists, remove_row, remove_members;
    };
    template <class T>
    bool upsert(TableStatements& t, char const* entity, Target target, T const& item,
                std::string const& now);
    template <class T>
    bool remove(TableStatements& t, char const* entity, Target target, T const& item,
                std::string const& now);
    bool membership(Target target, MembershipEvent const& m, EventKind kind,
                    std::string const& now);
    bool tombstoned(char const* entity, std::string const& id, std::int64_t updated_at_us);
    void add_tombstone(char const* entity, std::string const& id, std::string const& directory_id,
                       std::int64_t updated_at_us, std::string const& now);
    // An event changed this object while its directory's full sync lists it: the merge keeps
    // the event's version.
    void touched(Target target, std::string const& directory_id, char const* entity,
                 std::string const& id);
    TableStatements& users(Target t) { return t == Target::staging ? staged_users_ : live_users_; }
    TableStatements& groups(Target t)
    {
        return t == Target::staging ? staged_groups_ : live_groups_;
    }

    SQLite::Database& db_;
    SQLite::Statement is_live_, has_run_, tombstoned_, add_tombstone_, touch_;
    sql::ChangeLog changes_;
    SQLite::Statement member_changes_by_user_, member_changes_by_group_;
    SQLite::Statement add_member_, add_staged_member_, remove_member_, remove_staged_member_;
    TableStatements live_users_, staged_users_, live_groups_, staged_groups_;
};

} // namespace dirsync::store
