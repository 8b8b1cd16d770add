#include "store/event_applier.hpp"

#include "store/merge_sql.hpp"
#include "store/store_sql.hpp"

#include <fmt/format.h>

#include <type_traits>

namespace dirsync::store {
using namespace sql;

namespace {

// An event's copy wins unless the stored one is newer or the same.
std::string live_upsert(EntityTable const& t)
{
    return upsert(t.live, t.columns, values(t.columns), newer_and_different(t.live), t.keyed);
}

std::string staged_upsert(EntityTable const& t)
{
    return upsert(fmt::format("staging.{}", t.staged).c_str(), t.columns, values(t.columns),
                  newer_and_different(t.staged), t.keyed);
}

std::string member_changes(char const* column)
{
    return fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                       "SELECT :now, directory_id, 'membership', user_id || ':' || group_id, "
                       "'delete' FROM memberships WHERE {} = :id ORDER BY user_id, group_id",
                       column);
}

} // namespace

EventApplier::EventApplier(SQLite::Database& db)
    : db_(db)
    , is_live_(db, "SELECT 1 FROM directories WHERE id = :dir")
    , has_run_(db, "SELECT 1 FROM full_sync_runs WHERE directory_id = :dir")
    , tombstoned_(db, "SELECT 1 FROM tombstones WHERE entity = :e AND id = :id AND "
                      "updated_at_us >= :us")
    , add_tombstone_(db, "INSERT INTO tombstones (entity, id, directory_id, updated_at_us, "
                         "deleted_at) VALUES (:e, :id, :dir, :us, :now) ON CONFLICT (entity, "
                         "id) DO UPDATE SET updated_at_us = MAX(updated_at_us, "
                         "excluded.updated_at_us), deleted_at = excluded.deleted_at")
    , touch_(db, "INSERT OR IGNORE INTO resync_touched (directory_id, entity, entity_id) VALUES "
                 "(:dir, :e, :id)")
    , changes_(db)
    , member_changes_by_user_(db, member_changes("user_id"))
    , member_changes_by_group_(db, member_changes("group_id"))
    , add_member_(db, "INSERT OR IGNORE INTO memberships (user_id, group_id, directory_id) "
                      "VALUES (:user, :group, :dir)")
    , add_staged_member_(db, "INSERT INTO staging.membership_diff (directory_id, group_id, "
                             "user_id, op) VALUES (:dir, :group, :user, 'add') ON CONFLICT DO "
                             "UPDATE SET op = 'add'")
    , remove_member_(db, "DELETE FROM memberships WHERE user_id = :user AND group_id = :group")
    , remove_staged_member_(db, "DELETE FROM staging.membership_diff WHERE directory_id = :dir "
                                "AND group_id = :group AND user_id = :user")
    , live_users_{{db, stored_copy(users_table.live, users_table.keyed)},
                  {db, live_upsert(users_table)},
                  {db, rekey(users_table.live, users_table.keyed)},
                  {db, "SELECT 1 FROM users WHERE id = :id"},
                  {db, "DELETE FROM users WHERE id = :id"},
                  {db, "DELETE FROM memberships WHERE user_id = :id"}}
    , staged_users_{{db, stored_copy("staging.staged_users", users_table.keyed)},
                    {db, staged_upsert(users_table)},
                    {db, rekey("staging.staged_users", users_table.keyed)},
                    {db, "SELECT 1 FROM staging.staged_users WHERE id = :id"},
                    {db, "DELETE FROM staging.staged_users WHERE id = :id"},
                    {db, "DELETE FROM staging.membership_diff WHERE directory_id = :dir AND "
                         "user_id = :id"}}
    , live_groups_{{db, stored_copy(groups_table.live, groups_table.keyed)},
                   {db, live_upsert(groups_table)},
                   {db, rekey(groups_table.live, groups_table.keyed)},
                   {db, "SELECT 1 FROM groups WHERE id = :id"},
                   {db, "DELETE FROM groups WHERE id = :id"},
                   {db, "DELETE FROM memberships WHERE group_id = :id"}}
    , staged_groups_{
          {db, stored_copy("staging.staged_groups", groups_table.keyed)},
          {db, staged_upsert(groups_table)},
          {db, rekey("staging.staged_groups", groups_table.keyed)},
          {db, "SELECT 1 FROM staging.staged_groups WHERE id = :id"},
          {db, "DELETE FROM staging.staged_groups WHERE id = :id"},
          {db, "DELETE FROM staging.membership_diff WHERE directory_id = :dir AND group_id = :id"}}
{
}

Target EventApplier::target_of(std::string const& directory_id)
{
    auto const found = [&directory_id](SQLite::Statement& q) {
        rearm(q);
        q.bind(":dir", directory_id);
        bool const yes = q.executeStep();
        q.reset();
        return yes;
    };
    bool const live = found(is_live_);
    bool const syncing = found(has_run_);
    if (live)
        return syncing ? Target::resync : Target::live;
    return syncing ? Target::staging : Target::none;
}

void EventApplier::touched(Target target, std::string const& directory_id, char const* entity,
                           std::string const& id)
{
    if (target != Target::resync)
        return;
    rearm(touch_);
    touch_.bind(":dir", directory_id);
    touch_.bind(":e", entity);
    touch_.bind(":id", id);
    touch_.exec();
}

bool EventApplier::tombstoned(char const* entity, std::string const& id, std::int64_t updated_at_us)
{
    rearm(tombstoned_);
    tombstoned_.bind(":e", entity);
    tombstoned_.bind(":id", id);
    tombstoned_.bind(":us", updated_at_us);
    bool const found = tombstoned_.executeStep();
    tombstoned_.reset();
    return found;
}

void EventApplier::add_tombstone(char const* entity, std::string const& id,
                                 std::string const& directory_id, std::int64_t updated_at_us,
                                 std::string const& now)
{
    rearm(add_tombstone_);
    add_tombstone_.bind(":e", entity);
    add_tombstone_.bind(":id", id);
    add_tombstone_.bind(":dir", directory_id);
    add_tombstone_.bind(":us", updated_at_us);
    add_tombstone_.bind(":now", now);
    add_tombstone_.exec();
}

template <class T>
bool EventApplier::upsert(TableStatements& t, char const* entity, Target target, T const& item,
                          std::string const& now)
{
    if (tombstoned(entity, item.id, item.updated_at.micros))
        return false;
    rearm(t.current);
    bind_entity(t.current, item);
    bool const stored = t.current.executeStep();
    bool const current = stored && t.current.getColumn(0).getInt() != 0;
    bool const rekeyed = stored && t.current.getColumn(1).getInt() != 0;
    t.current.reset();
    if (current)
        return false;
    rearm(t.upsert);
    bind_entity(t.upsert, item);
    if (t.upsert.exec() == 0)
        return false;
    if (rekeyed) {
        rearm(t.rekey);
        bind_entity(t.rekey, item);
        t.rekey.exec();
    }
    touched(target, item.directory_id, entity, item.id);
    if (target != Target::staging)
        changes_.record(now, item.directory_id, entity, item.id, "upsert");
    return true;
}

template <class T>
bool EventApplier::remove(TableStatements& t, char const* entity, Target target, T const& item,
                          std::string const& now)
{
    add_tombstone(entity, item.id, item.directory_id, item.updated_at.micros, now);
    touched(target, item.directory_id, entity, item.id);
    if (target != Target::staging) {
        auto& changes =
            std::is_same_v<T, User> ? member_changes_by_user_ : member_changes_by_group_;
        rearm(changes);
        changes.bind(":now", now);
        changes.bind(":id", item.id);
        changes.exec();
    }
    for (auto* st : {&t.remove_members, &t.remove_row}) {
        rearm(*st);
        st->bind(":id", item.id);
        if (st->getIndex(":dir") > 0)
            st->bind(":dir", item.directory_id);
    }
    t.remove_members.exec();
    if (t.remove_row.exec() == 0)
        return false;
    if (target != Target::staging)
        changes_.record(now, item.directory_id, entity, item.id, "delete");
    return true;
}

bool EventApplier::membership(Target target, MembershipEvent const& m, EventKind kind,
                              std::string const& now)
{
    bool const live = target != Target::staging;
    auto const exists = [](TableStatements& t, std::string const& id) {
        rearm(t.exists);
        t.exists.bind(":id", id);
        bool const found = t.exists.executeStep();
        t.exists.reset();
        return found;
    };
    bool const add = kind == EventKind::membership_added;
    // Never a membership whose user or group is missing (deleted, or tombstoned).
    if (add && (!exists(users(target), m.user.id) || !exists(groups(target), m.group.id)))
        return false;
    auto& st = add ? (live ? add_member_ : add_staged_member_)
                   : (live ? remove_member_ : remove_staged_member_);
    rearm(st);
    st.bind(":user", m.user.id);
    st.bind(":group", m.group.id);
    if (st.getIndex(":dir") > 0)
        st.bind(":dir", m.directory_id);
    auto const pair = m.user.id + ":" + m.group.id;
    touched(target, m.directory_id, "membership", pair);
    if (st.exec() == 0)
        return false;
    if (live)
        changes_.record(now, m.directory_id, "membership", m.user.id + ":" + m.group.id,
                        add ? "upsert" : "delete");
    return true;
}

bool EventApplier::apply(Event const& ev, Target target, std::string const& now)
{
    switch (ev.kind) {
    case EventKind::directory_deleted: {
        auto const& d = std::get<Directory>(ev.payload);
        add_tombstone("directory", d.id, d.id, d.updated_at.micros, now);
        return delete_directory_rows(db_, d.id, now);
    }
    case EventKind::user_upserted:
        return upsert(users(target), "user", target, std::get<User>(ev.payload), now);
    case EventKind::user_deleted:
        return remove(users(target), "user", target, std::get<User>(ev.payload), now);
    case EventKind::group_upserted:
        return upsert(groups(target), "group", target, std::get<Group>(ev.payload), now);
    case EventKind::group_deleted:
        return remove(groups(target), "group", target, std::get<Group>(ev.payload), now);
    case EventKind::membership_added:
    case EventKind::membership_removed: {
        // The payload's snapshots are as good as any: upsert them (newer wins), so that a
        // membership event that arrives before user.created still has both ends.
        auto const& m = std::get<MembershipEvent>(ev.payload);
        bool changed = upsert(users(target), "user", target, m.user, now);
        changed |= upsert(groups(target), "group", target, m.group, now);
        changed |= membership(target, m, ev.kind, now);
        return changed;
    }
    case EventKind::directory_activated:
    case EventKind::directory_deactivated:
    case EventKind::token:
    case EventKind::unknown:
        break;
    }
    return false;
}

} // namespace dirsync::store
