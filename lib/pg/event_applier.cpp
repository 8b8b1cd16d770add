#include "pg/event_applier.hpp"

#include "pg/entity_tables.hpp"
#include "pg/mirror_rows.hpp"

#include <fmt/format.h>

#include <type_traits>
#include <vector>

namespace dirsync::pg {
using store::Target;

namespace {

Params params_of(User const& u)
{
    return {u.id,
            u.directory_id,
            u.organization_id,
            u.idp_id,
            u.email,
            u.first_name,
            u.last_name,
            u.state,
            u.role,
            u.created_at.text,
            u.updated_at.text,
            u.raw_json,
            std::to_string(u.updated_at.micros)};
}

Params params_of(Group const& g)
{
    return {g.id,
            g.directory_id,
            g.organization_id,
            g.idp_id,
            g.name,
            g.created_at.text,
            g.updated_at.text,
            g.raw_json,
            std::to_string(g.updated_at.micros)};
}

// $1 .. $n are the columns; then $n+1 now, $n+2 whether to mark it touched (resync).
// The copy wins unless a tombstone or the stored row is as new, or the stored row is the same
// (jsonb compares values: key order and spacing do not make a copy new).
std::string upsert_sql(EntityTable const& t, bool staged)
{
    std::string values;
    int n = 0;
    for (auto const& c : t.columns) {
        ++n;
        values += fmt::format("{}${}::{}", n > 1 ? ", " : "", n, c.type);
    }
    auto const insert = fmt::format(
        "INSERT INTO {0} AS t ({1}) SELECT {2} WHERE NOT EXISTS (SELECT 1 FROM tombstones tb "
        "WHERE tb.entity = '{3}' AND tb.id = $1 AND tb.updated_at_us >= ${4}) ON CONFLICT (id) DO "
        "UPDATE SET {5} WHERE t.raw_json IS DISTINCT FROM excluded.raw_json AND "
        "excluded.updated_at_us >= t.updated_at_us RETURNING t.id",
        staged ? t.staged : t.live, column_names(t), values, t.entity, n, set_from_excluded(t));
    if (staged)
        return fmt::format("WITH up AS ({}) SELECT (SELECT count(*) FROM up), NULL::bigint",
                           insert);
    return fmt::format(
        "WITH up AS ({0}), touched AS (INSERT INTO resync_touched (entity, entity_id, "
        "directory_id) SELECT '{1}', id, $2 FROM up WHERE ${3}::boolean ON CONFLICT DO NOTHING), "
        "feed AS (INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT "
        "${2}::timestamptz, $2, '{1}', id, 'upsert' FROM up RETURNING seq) SELECT (SELECT "
        "count(*) FROM up), (SELECT max(seq) FROM feed)",
        insert, t.entity, n + 1, n + 2);
}

// $1 id, $2 directory, $3 updated_at_us, $4 now, $5 touched (live only). The tombstone is written
// whether or not the object was mirrored: a late copy must not bring it in either.
std::string remove_sql(EntityTable const& t, bool staged)
{
    auto const tombstone = fmt::format(
        "tomb AS (INSERT INTO tombstones (entity, id, directory_id, updated_at_us, deleted_at) "
        "VALUES ('{}', $1, $2, $3::bigint, $4::timestamptz) ON CONFLICT (entity, id) DO UPDATE "
        "SET updated_at_us = GREATEST(tombstones.updated_at_us, excluded.updated_at_us), "
        "deleted_at = excluded.deleted_at)",
        t.entity);
    if (staged)
        return fmt::format(
            "WITH {0}, members AS (DELETE FROM staged_membership_diff WHERE directory_id = $2 AND "
            "{1} = $1), gone AS (DELETE FROM {2} WHERE id = $1 "
            "RETURNING id) SELECT (SELECT count(*) FROM gone), NULL::bigint",
            tombstone, t.member_column, t.staged);
    return fmt::format(
        "WITH {0}, touched AS (INSERT INTO resync_touched (entity, entity_id, directory_id) "
        "SELECT '{1}', $1, $2 WHERE $5::boolean ON CONFLICT DO NOTHING), members AS (DELETE FROM "
        "memberships WHERE {2} = $1 RETURNING directory_id, user_id, group_id), gone AS (DELETE "
        "FROM {3} WHERE id = $1 RETURNING id), feed AS (INSERT INTO changes (changed_at, "
        "directory_id, entity, entity_id, op) SELECT $4::timestamptz, d, e, i, 'delete' FROM "
        "(SELECT 1, directory_id, 'membership', user_id || ':' || group_id, user_id, group_id "
        "FROM members UNION ALL SELECT 2, $2, '{1}', id, id, '' FROM gone) AS c (k, d, e, i, a, "
        "b) ORDER BY k, a COLLATE \"C\", b COLLATE \"C\" RETURNING seq) SELECT (SELECT count(*) "
        "FROM gone), (SELECT max(seq) FROM feed)",
        tombstone, t.entity, t.member_column, t.live);
}

// $1 user, $2 group, $3 directory, $4 now, $5 touched. Never a membership whose user or group
// is missing (deleted, or tombstoned).
constexpr char const* add_member_sql =
    "WITH ends AS (SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AND EXISTS (SELECT 1 FROM "
    "groups WHERE id = $2) AS ok), added AS (INSERT INTO memberships (user_id, group_id, "
    "directory_id) SELECT $1, $2, $3 FROM ends WHERE ok ON CONFLICT DO NOTHING RETURNING 1), "
    "touched AS (INSERT INTO resync_touched (entity, entity_id, directory_id) SELECT "
    "'membership', $1 || ':' || $2, $3 FROM ends WHERE ok AND $5::boolean ON CONFLICT DO "
    "NOTHING), feed AS (INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
    "SELECT $4::timestamptz, $3, 'membership', $1 || ':' || $2, 'upsert' FROM added RETURNING "
    "seq) SELECT (SELECT count(*) FROM added), (SELECT max(seq) FROM feed)";

constexpr char const* remove_member_sql =
    "WITH removed AS (DELETE FROM memberships WHERE user_id = $1 AND group_id = $2 RETURNING 1), "
    "touched AS (INSERT INTO resync_touched (entity, entity_id, directory_id) SELECT "
    "'membership', $1 || ':' || $2, $3 WHERE $5::boolean ON CONFLICT DO NOTHING), feed AS "
    "(INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT "
    "$4::timestamptz, $3, 'membership', $1 || ':' || $2, 'delete' FROM removed RETURNING seq) "
    "SELECT (SELECT count(*) FROM removed), (SELECT max(seq) FROM feed)";

// The staging of a directory in its first sync: $1 user, $2 group, $3 directory; no changes
// rows (the merge writes them).
constexpr char const* add_staged_member_sql =
    "WITH added AS (INSERT INTO staged_membership_diff AS d (directory_id, group_id, user_id, op) "
    "SELECT $3, $2, $1, 'add' WHERE EXISTS (SELECT 1 FROM staged_users WHERE id = $1) AND EXISTS "
    "(SELECT 1 FROM staged_groups WHERE id = $2) ON CONFLICT (directory_id, group_id, user_id) DO "
    "UPDATE SET op = "
    "'add' WHERE d.op <> 'add' RETURNING 1) SELECT (SELECT count(*) FROM added), NULL::bigint";

constexpr char const* remove_staged_member_sql =
    "WITH removed AS (DELETE FROM staged_membership_diff WHERE directory_id = $3 AND group_id = "
    "$2 AND user_id = $1 RETURNING 1) SELECT (SELECT count(*) FROM removed), NULL::bigint";

std::string flag(bool b)
{
    return b ? "true" : "false";
}

} // namespace

Target EventApplier::target_of(std::string const& directory_id)
{
    auto const r = db_.exec_prepared(
        "target_of",
        "SELECT EXISTS (SELECT 1 FROM directories WHERE id = $1), EXISTS (SELECT 1 FROM "
        "full_sync_runs WHERE directory_id = $1)",
        {directory_id});
    bool const live = r.text(0, 0) == "t";
    bool const syncing = r.text(0, 1) == "t";
    if (live)
        return syncing ? Target::resync : Target::live;
    return syncing ? Target::staging : Target::none;
}

bool EventApplier::step(char const* name, std::string const& sql, Params const& params)
{
    auto const r = db_.exec_prepared(name, sql, params);
    if (!r.is_null(0, 1))
        feed_.saw(r.integer(0, 1));
    return r.integer(0, 0) > 0;
}

bool EventApplier::upsert(User const& u, Target target, std::string const& now)
{
    bool const staged = target == Target::staging;
    auto params = params_of(u);
    if (!staged) {
        params.emplace_back(now);
        params.emplace_back(flag(target == Target::resync));
    }
    static auto const live_sql = upsert_sql(users_table, false);
    static auto const staged_sql = upsert_sql(users_table, true);
    return staged ? step("upsert_staged_user", staged_sql, params)
                  : step("upsert_user", live_sql, params);
}

bool EventApplier::upsert(Group const& g, Target target, std::string const& now)
{
    bool const staged = target == Target::staging;
    auto params = params_of(g);
    if (!staged) {
        params.emplace_back(now);
        params.emplace_back(flag(target == Target::resync));
    }
    static auto const live_sql = upsert_sql(groups_table, false);
    static auto const staged_sql = upsert_sql(groups_table, true);
    return staged ? step("upsert_staged_group", staged_sql, params)
                  : step("upsert_group", live_sql, params);
}

template <class T>
bool EventApplier::remove(T const& item, Target target, std::string const& now)
{
    constexpr bool is_user = std::is_same_v<T, User>;
    auto const& table = is_user ? users_table : groups_table;
    bool const staged = target == Target::staging;
    static auto const live_sql = remove_sql(table, false);
    static auto const staged_sql = remove_sql(table, true);
    Params params{item.id, item.directory_id, std::to_string(item.updated_at.micros), now};
    if (staged)
        return step(is_user ? "remove_staged_user" : "remove_staged_group", staged_sql, params);
    params.emplace_back(flag(target == Target::resync));
    return step(is_user ? "remove_user" : "remove_group", live_sql, params);
}

bool EventApplier::membership(MembershipEvent const& m, bool add, Target target,
                              std::string const& now)
{
    Params params{m.user.id, m.group.id, m.directory_id};
    if (target == Target::staging)
        return add ? step("add_staged_member", add_staged_member_sql, params)
                   : step("remove_staged_member", remove_staged_member_sql, params);
    params.emplace_back(now);
    params.emplace_back(flag(target == Target::resync));
    return add ? step("add_member", add_member_sql, params)
               : step("remove_member", remove_member_sql, params);
}

bool EventApplier::apply(Event const& ev, Target target, std::string const& now)
{
    switch (ev.kind) {
    case EventKind::directory_deleted: {
        auto const& d = std::get<Directory>(ev.payload);
        db_.exec_prepared("tombstone_directory",
                          "INSERT INTO tombstones (entity, id, directory_id, updated_at_us, "
                          "deleted_at) VALUES ('directory', $1, $1, $2::bigint, $3::timestamptz) "
                          "ON CONFLICT (entity, id) DO UPDATE SET updated_at_us = "
                          "GREATEST(tombstones.updated_at_us, excluded.updated_at_us), deleted_at "
                          "= excluded.deleted_at",
                          {d.id, std::to_string(d.updated_at.micros), now});
        return delete_directory_rows(db_, feed_, d.id, now);
    }
    case EventKind::user_upserted:
        return upsert(std::get<User>(ev.payload), target, now);
    case EventKind::user_deleted:
        return remove(std::get<User>(ev.payload), target, now);
    case EventKind::group_upserted:
        return upsert(std::get<Group>(ev.payload), target, now);
    case EventKind::group_deleted:
        return remove(std::get<Group>(ev.payload), target, now);
    case EventKind::membership_added:
    case EventKind::membership_removed: {
        // The payload's snapshots are as good as any: upsert them (newer wins), so that a
        // membership event that arrives before user.created still has both ends.
        auto const& m = std::get<MembershipEvent>(ev.payload);
        bool changed = upsert(m.user, target, now);
        changed |= upsert(m.group, target, now);
        changed |= membership(m, ev.kind == EventKind::membership_added, target, now);
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

} // namespace dirsync::pg
