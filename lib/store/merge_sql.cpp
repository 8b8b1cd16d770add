#include "store/merge_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
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
                   std::string const& source, std::string const& condition,
                   std::vector<char const*> const& leave_out)
{
    std::string set;
    for (auto const* c : columns) {
        if (std::string_view(c) == "id" ||
            std::any_of(leave_out.begin(), leave_out.end(),
                        [c](char const* l) { return std::string_view(c) == l; }))
            continue;
        set += fmt::format("{0}{1} = excluded.{1}", set.empty() ? "" : ", ", c);
    }
    return fmt::format("INSERT INTO {} ({}) {} ON CONFLICT (id) DO UPDATE SET {} WHERE {}", table,
                       column_list(columns, ""), source, set, condition);
}

namespace {

// True where a stored `keyed` column differs from its bound value.
std::string keyed_differ(std::vector<char const*> const& keyed)
{
    std::string differs;
    for (auto const* c : keyed)
        differs += fmt::format("{0}{1} IS NOT :{1}", differs.empty() ? "" : " OR ", c);
    return differs;
}

} // namespace

std::string rekey(char const* table, std::vector<char const*> const& keyed)
{
    std::string set;
    for (auto const* c : keyed)
        set += fmt::format("{0}{1} = :{1}", set.empty() ? "" : ", ", c);
    return fmt::format("UPDATE {} SET {} WHERE id = :id AND ({})", table, set, keyed_differ(keyed));
}

std::string newer_and_different(char const* table)
{
    return fmt::format("{0}.raw_json IS NOT excluded.raw_json AND excluded.updated_at_us >= "
                       "{0}.updated_at_us",
                       table);
}

std::string stored_copy(char const* table, std::vector<char const*> const& keyed)
{
    return fmt::format("SELECT raw_json IS :raw_json OR updated_at_us > :updated_at_us, {} FROM {} "
                       "WHERE id = :id",
                       keyed_differ(keyed), table);
}

namespace {

constexpr char const* insert_changes =
    "INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) ";

std::string untouched(char const* entity, char const* id_expr)
{
    return fmt::format("NOT EXISTS (SELECT 1 FROM resync_touched rt WHERE rt.entity = '{}' AND "
                       "rt.entity_id = {})",
                       entity, id_expr);
}

// The directory's pending deletions of one entity that no event touched meanwhile.
std::string gone(char const* entity)
{
    return fmt::format("SELECT pd.id FROM staging.pending_deletes pd WHERE pd.directory_id = "
                       ":dir AND pd.entity = '{0}' AND {1}",
                       entity, untouched(entity, "pd.id"));
}

std::string staged_membership(char const* op)
{
    return fmt::format("d.directory_id = :dir AND d.op = '{}' AND {}", op,
                       untouched("membership", "d.user_id || ':' || d.group_id"));
}

// The changes rows this step recorded.
constexpr char const* recorded = "FROM changes WHERE seq > :since_seq";

// The (user_id, group_id) of the memberships this step recorded (entity_id is "user:group";
// ids never hold a colon).
constexpr char const* recorded_pairs =
    "SELECT substr(entity_id, 1, instr(entity_id, ':') - 1), substr(entity_id, instr(entity_id, "
    "':') + 1) FROM changes WHERE seq > :since_seq";

} // namespace

MergeStep merge_upserts(EntityTable const& t)
{
    return {fmt::format("{}SELECT :now, :dir, '{}', s.id, 'upsert' FROM staging.{} s LEFT JOIN {} "
                        "t ON t.id = s.id WHERE s.directory_id = :dir AND {} AND NOT EXISTS "
                        "(SELECT 1 FROM tombstones tb WHERE tb.entity = '{}' AND tb.id = s.id AND "
                        "tb.updated_at_us >= s.updated_at_us) AND (t.id IS NULL OR (t.raw_json IS "
                        "NOT s.raw_json AND s.updated_at_us >= t.updated_at_us))",
                        insert_changes, t.entity, t.staged, t.live, untouched(t.entity, "s.id"),
                        t.entity),
            upsert(t.live, t.columns,
                   fmt::format("SELECT {} FROM changes c JOIN staging.{} s ON s.id = c.entity_id "
                               "WHERE c.seq > :since_seq",
                               column_list(t.columns, "s."), t.staged),
                   newer_and_different(t.live))};
}

MergeStep merge_added_memberships()
{
    // both ends in the mirror and staying (neither deleted by this merge), not there yet
    return {fmt::format("{}SELECT :now, :dir, 'membership', d.user_id || ':' || d.group_id, "
                        "'upsert' FROM staging.membership_diff d WHERE {} AND EXISTS (SELECT 1 "
                        "FROM users u WHERE u.id = d.user_id) AND EXISTS (SELECT 1 FROM groups g "
                        "WHERE g.id = d.group_id) AND NOT EXISTS (SELECT 1 FROM "
                        "staging.pending_deletes pd WHERE pd.entity = 'user' AND pd.id = "
                        "d.user_id) AND NOT EXISTS (SELECT 1 FROM staging.pending_deletes pd WHERE "
                        "pd.entity = 'group' AND pd.id = d.group_id) AND NOT EXISTS (SELECT 1 FROM "
                        "memberships m WHERE m.user_id = d.user_id AND m.group_id = d.group_id)",
                        insert_changes, staged_membership("add")),
            fmt::format("INSERT INTO memberships (user_id, group_id, directory_id) SELECT "
                        "substr(entity_id, 1, instr(entity_id, ':') - 1), substr(entity_id, "
                        "instr(entity_id, ':') + 1), directory_id {}",
                        recorded)};
}

MergeStep merge_removed_memberships()
{
    return {
        fmt::format("{}SELECT :now, :dir, 'membership', d.user_id || ':' || d.group_id, "
                    "'delete' FROM staging.membership_diff d WHERE {} AND EXISTS (SELECT 1 "
                    "FROM memberships m WHERE m.user_id = d.user_id AND m.group_id = "
                    "d.group_id)",
                    insert_changes, staged_membership("delete")),
        fmt::format("DELETE FROM memberships WHERE (user_id, group_id) IN ({})", recorded_pairs)};
}

MergeStep merge_memberships_of_gone()
{
    return {
        fmt::format("{}SELECT :now, :dir, 'membership', m.user_id || ':' || m.group_id, "
                    "'delete' FROM memberships m WHERE m.user_id IN ({}) OR m.group_id IN ({}) "
                    "ORDER BY m.user_id, m.group_id",
                    insert_changes, gone("user"), gone("group")),
        fmt::format("DELETE FROM memberships WHERE (user_id, group_id) IN ({})", recorded_pairs)};
}

MergeStep merge_deletes(EntityTable const& t)
{
    return {fmt::format("{}SELECT :now, :dir, '{}', id, 'delete' FROM {} WHERE id IN ({})",
                        insert_changes, t.entity, t.live, gone(t.entity)),
            fmt::format("DELETE FROM {} WHERE id IN (SELECT entity_id {})", t.live, recorded)};
}

} // namespace dirsync::store::sql
