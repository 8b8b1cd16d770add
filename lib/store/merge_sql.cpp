#include "store/merge_sql.hpp"

#include <fmt/format.h>

#include <string_view>

namespace dirsync::store::sql {

std::string column_list(std::vector<char const*> const& cols, char const* prefix)
{
    std::string out;
    for (auto const* c : cols) {
        if (!out.empty())
            out += ", ";
        out += prefix;
        out += c;
    }
    return out;
}

std::string values(std::vector<char const*> const& columns)
{
    return "VALUES (" + column_list(columns, ":") + ")";
}

std::string upsert(char const* table, std::vector<char const*> const& columns,
                   std::string const& source, std::string const& condition)
{
    std::string set;
    for (auto const* c : columns) {
        if (std::string_view(c) == "id")
            continue;
        set += fmt::format("{0}{1} = excluded.{1}", set.empty() ? "" : ", ", c);
    }
    return fmt::format("INSERT INTO {} ({}) {} ON CONFLICT (id) DO UPDATE SET {} WHERE {}", table,
                       column_list(columns, ""), source, set, condition);
}

std::string newer_and_different(char const* table)
{
    return fmt::format("{0}.raw_json IS NOT excluded.raw_json AND excluded.updated_at_us >= "
                       "{0}.updated_at_us",
                       table);
}

std::string touched_by_event(char const* entity, char const* id_expr)
{
    return fmt::format("EXISTS (SELECT 1 FROM changes c WHERE c.entity_id = {} AND c.entity = "
                       "'{}' AND c.seq > :start_seq AND c.seq <= :merge_seq)",
                       id_expr, entity);
}

namespace {

constexpr char const* insert_changes =
    "INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) ";

// Staged rows of the directory that the merge may write: decoded (raw_json set), untouched by
// events, and not deleted by an event at least as new (a tombstone).
std::string eligible_staged(EntityTable const& t)
{
    return fmt::format(
        "s.directory_id = :dir AND s.raw_json IS NOT NULL AND NOT {0} AND NOT EXISTS (SELECT 1 "
        "FROM tombstones tb WHERE tb.entity = '{1}' AND tb.id = s.id AND tb.updated_at_us >= "
        "s.updated_at_us)",
        touched_by_event(t.entity, "s.id"), t.entity);
}

// Live rows of the directory that were not staged and that no event touched since the listing
// began.
std::string missing_live(EntityTable const& t)
{
    auto const id = fmt::format("{}.id", t.live);
    return fmt::format("{0}.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM {1} s WHERE s.id = "
                       "{0}.id) AND NOT {2}",
                       t.live, t.staged, touched_by_event(t.entity, id.c_str()));
}

// A staged membership counts when both ends were staged for this directory and exist live.
constexpr char const* valid_staged_membership =
    "sm.directory_id = :dir "
    "AND EXISTS (SELECT 1 FROM staged_users su WHERE su.id = sm.user_id AND su.directory_id = "
    ":dir) "
    "AND EXISTS (SELECT 1 FROM staged_groups sg WHERE sg.id = sm.group_id "
    "            AND sg.directory_id = :dir) "
    "AND EXISTS (SELECT 1 FROM users u WHERE u.id = sm.user_id) "
    "AND EXISTS (SELECT 1 FROM groups g WHERE g.id = sm.group_id)";

std::string new_membership()
{
    return fmt::format(
        "{} AND NOT {} AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = sm.user_id "
        "AND m.group_id = sm.group_id)",
        valid_staged_membership,
        touched_by_event("membership", "sm.user_id || ':' || sm.group_id"));
}

std::string gone_membership()
{
    return fmt::format(
        "m.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM staged_memberships sm "
        "WHERE sm.user_id = m.user_id AND sm.group_id = m.group_id AND {}) AND NOT {}",
        valid_staged_membership, touched_by_event("membership", "m.user_id || ':' || m.group_id"));
}

} // namespace

std::string merge_upserted_changes(EntityTable const& t)
{
    return fmt::format("{}SELECT :now, :dir, '{}', s.id, 'upsert' FROM {} s LEFT JOIN {} t ON "
                       "t.id = s.id WHERE {} AND (t.id IS NULL OR (t.raw_json IS NOT s.raw_json "
                       "AND s.updated_at_us >= t.updated_at_us)) ORDER BY s.id",
                       insert_changes, t.entity, t.staged, t.live, eligible_staged(t));
}

std::string merge_upserts(EntityTable const& t)
{
    return upsert(t.live, t.columns,
                  fmt::format("SELECT {} FROM {} s WHERE {}", column_list(t.columns, "s."),
                              t.staged, eligible_staged(t)),
                  newer_and_different(t.live));
}

std::string merge_deleted_changes(EntityTable const& t)
{
    return fmt::format("{}SELECT :now, :dir, '{}', id, 'delete' FROM {} WHERE {} ORDER BY id",
                       insert_changes, t.entity, t.live, missing_live(t));
}

std::string merge_deletes(EntityTable const& t)
{
    return fmt::format("DELETE FROM {} WHERE {}", t.live, missing_live(t));
}

std::string merge_added_membership_changes()
{
    return fmt::format("{}SELECT :now, :dir, 'membership', sm.user_id || ':' || sm.group_id, "
                       "'upsert' FROM staged_memberships sm WHERE {} ORDER BY sm.user_id, "
                       "sm.group_id",
                       insert_changes, new_membership());
}

std::string merge_added_memberships()
{
    return fmt::format("INSERT INTO memberships (user_id, group_id, directory_id) SELECT "
                       "sm.user_id, sm.group_id, :dir FROM staged_memberships sm WHERE {}",
                       new_membership());
}

std::string merge_removed_membership_changes()
{
    return fmt::format("{}SELECT :now, :dir, 'membership', m.user_id || ':' || m.group_id, "
                       "'delete' FROM memberships m WHERE {} ORDER BY m.user_id, m.group_id",
                       insert_changes, gone_membership());
}

std::string merge_removed_memberships()
{
    return fmt::format("DELETE FROM memberships AS m WHERE {}", gone_membership());
}

std::string merge_dangling_memberships()
{
    return "DELETE FROM memberships AS m WHERE m.directory_id = :dir AND (NOT EXISTS (SELECT 1 "
           "FROM users u WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE "
           "g.id = m.group_id))";
}

} // namespace dirsync::store::sql
