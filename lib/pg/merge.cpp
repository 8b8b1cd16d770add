#include "pg/merge.hpp"

#include "pg/change_feed.hpp"
#include "pg/entity_tables.hpp"
#include "pg/mirror_rows.hpp"
#include "pg/transaction.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace dirsync::pg {
namespace {

// Every step is one statement, $1 the directory and $2 now: `picked` decides the rows once,
// the step applies them and writes their changes rows in the same statement, and its result is
// (rows applied, highest seq added or NULL). The ids are ordered byte-wise (COLLATE "C"), as
// SQLite orders them, so that the feed's order does not depend on the database's locale.
constexpr char const* feed_and_count =
    "feed AS (INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT "
    "$2::timestamptz, $1, e, i, o FROM recorded ORDER BY k1 COLLATE \"C\", k2 COLLATE \"C\" "
    "RETURNING seq) SELECT (SELECT count(*) FROM applied), (SELECT max(seq) FROM feed)";

std::string untouched(char const* entity, char const* id_expr)
{
    return fmt::format("NOT EXISTS (SELECT 1 FROM resync_touched rt WHERE rt.entity = '{}' AND "
                       "rt.entity_id = {})",
                       entity, id_expr);
}

// The directory's staged deletions of one entity that no event touched meanwhile.
std::string gone(char const* entity)
{
    return fmt::format("SELECT sd.id FROM staged_deletions sd WHERE sd.directory_id = $1 AND "
                       "sd.entity = '{0}' AND {1}",
                       entity, untouched(entity, "sd.id"));
}

// New or changed staged objects, unless an event touched them or deleted them as recently.
std::string upserts_sql(EntityTable const& t)
{
    return fmt::format(
        "WITH picked AS (SELECT s.* FROM {0} s LEFT JOIN {1} t ON t.id = s.id WHERE "
        "s.directory_id = $1 AND {2} AND NOT EXISTS (SELECT 1 FROM tombstones tb WHERE tb.entity "
        "= '{3}' AND tb.id = s.id AND tb.updated_at_us >= s.updated_at_us) AND (t.id IS NULL OR "
        "(t.raw_json IS DISTINCT FROM s.raw_json AND s.updated_at_us >= t.updated_at_us))), "
        "applied AS (INSERT INTO {1} ({4}) SELECT {4} FROM picked ON CONFLICT (id) DO UPDATE SET "
        "{5} RETURNING 1), recorded AS (SELECT id AS k1, '' AS k2, '{3}' AS e, id AS i, "
        "'upsert' AS o FROM picked), {6}",
        t.staged, t.live, untouched(t.entity, "s.id"), t.entity, column_names(t),
        set_from_excluded(t), feed_and_count);
}

// Both ends in the mirror and staying (neither deleted by this merge), not there yet.
std::string added_memberships_sql()
{
    return fmt::format(
        "WITH picked AS (SELECT d.user_id, d.group_id FROM staged_membership_diff d WHERE "
        "d.directory_id = $1 AND d.op = 'add' AND {0} AND EXISTS (SELECT 1 FROM users u WHERE "
        "u.id = d.user_id) AND EXISTS (SELECT 1 FROM groups g WHERE g.id = d.group_id) AND NOT "
        "EXISTS (SELECT 1 FROM staged_deletions sd WHERE sd.entity = 'user' AND sd.id = "
        "d.user_id) AND NOT EXISTS (SELECT 1 FROM staged_deletions sd WHERE sd.entity = 'group' "
        "AND sd.id = d.group_id) AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = "
        "d.user_id AND m.group_id = d.group_id)), applied AS (INSERT INTO memberships (user_id, "
        "group_id, directory_id) SELECT user_id, group_id, $1 FROM picked ON CONFLICT DO NOTHING "
        "RETURNING 1), recorded AS (SELECT user_id AS k1, group_id AS k2, 'membership' AS e, "
        "user_id || ':' || group_id AS i, 'upsert' AS o FROM picked), {1}",
        untouched("membership", "d.user_id || ':' || d.group_id"), feed_and_count);
}

std::string removed_memberships_sql()
{
    return fmt::format(
        "WITH applied AS (DELETE FROM memberships m USING staged_membership_diff d WHERE "
        "d.directory_id = $1 AND d.op = 'delete' AND {0} AND m.user_id = d.user_id AND "
        "m.group_id = d.group_id RETURNING m.user_id, m.group_id), recorded AS (SELECT user_id "
        "AS k1, group_id AS k2, 'membership' AS e, user_id || ':' || group_id AS i, 'delete' AS "
        "o FROM applied), {1}",
        untouched("membership", "d.user_id || ':' || d.group_id"), feed_and_count);
}

// The memberships of the users and groups the listing passed over, so that none dangles.
std::string memberships_of_gone_sql()
{
    return fmt::format("WITH applied AS (DELETE FROM memberships m WHERE m.user_id IN ({0}) OR "
                       "m.group_id IN ({1}) RETURNING m.user_id, m.group_id), recorded AS (SELECT "
                       "user_id AS k1, group_id AS k2, 'membership' AS e, user_id || ':' || "
                       "group_id AS i, 'delete' AS o FROM applied), {2}",
                       gone("user"), gone("group"), feed_and_count);
}

std::string deletes_sql(EntityTable const& t)
{
    return fmt::format("WITH applied AS (DELETE FROM {0} WHERE id IN ({1}) RETURNING id), "
                       "recorded AS (SELECT id AS k1, '' AS k2, '{2}' AS e, id AS i, 'delete' AS "
                       "o FROM applied), {3}",
                       t.live, gone(t.entity), t.entity, feed_and_count);
}

// The directory itself, unless the stored copy is the same or newer.
constexpr char const* directory_sql =
    "WITH applied AS (INSERT INTO directories AS t (id, organization_id, name, domain, type, "
    "state, created_at, updated_at, raw_json, updated_at_us) VALUES ($1, $3, $4, $5, $6, $7, "
    "$8::timestamptz, $9::timestamptz, $10::jsonb, $11::bigint) ON CONFLICT (id) DO UPDATE SET "
    "organization_id = excluded.organization_id, name = excluded.name, domain = "
    "excluded.domain, type = excluded.type, state = excluded.state, created_at = "
    "excluded.created_at, updated_at = excluded.updated_at, raw_json = excluded.raw_json, "
    "updated_at_us = excluded.updated_at_us WHERE t.raw_json IS DISTINCT FROM excluded.raw_json "
    "AND excluded.updated_at_us >= t.updated_at_us RETURNING id), recorded AS (SELECT id AS k1, "
    "'' AS k2, 'directory' AS e, id AS i, 'upsert' AS o FROM applied), ";

} // namespace

store::MergeResult merge_directory(Connection& db, Directory const& directory,
                                   store::SyncRecord const& record, std::string const& now)
{
    auto const& dir = directory.id;
    ChangeFeed feed(db);
    Transaction tx(db);
    auto const run = db.exec_prepared(
        "merge_run",
        "SELECT " + iso_text("r.started_at") +
            " FROM staging_runs r JOIN full_sync_runs f USING (directory_id) WHERE "
            "r.directory_id = $1 AND f.run_id = r.run_id",
        {dir});
    if (run.rows() == 0)
        throw std::logic_error("merge_directory: no staging run for directory " + dir);
    auto const started_at = run.text(0, 0);

    // runs one step; returns the rows it applied
    auto const step = [&](char const* name, std::string const& sql, Params const& params) {
        auto const r = db.exec_prepared(name, sql, params);
        if (!r.is_null(0, 1))
            feed.saw(r.integer(0, 1));
        return r.integer(0, 0);
    };
    Params const p{dir, now};
    static auto const directory_step = std::string(directory_sql) + feed_and_count;
    static auto const groups_step = upserts_sql(groups_table);
    static auto const users_step = upserts_sql(users_table);
    static auto const added_step = added_memberships_sql();
    static auto const removed_step = removed_memberships_sql();
    static auto const gone_members_step = memberships_of_gone_sql();
    static auto const gone_users_step = deletes_sql(users_table);
    static auto const gone_groups_step = deletes_sql(groups_table);

    store::MergeResult result;
    result.directory_changed =
        step("merge_directory", directory_step,
             {dir, now, directory.organization_id, directory.name, directory.domain, directory.type,
              directory.state, directory.created_at.text, directory.updated_at.text,
              directory.raw_json, std::to_string(directory.updated_at.micros)}) > 0;
    result.groups.upserted = step("merge_groups", groups_step, p);
    result.users.upserted = step("merge_users", users_step, p);
    result.memberships.upserted = step("merge_added_members", added_step, p);
    result.memberships.deleted = step("merge_removed_members", removed_step, p);
    result.memberships.deleted += step("merge_members_of_gone", gone_members_step, p);
    result.users.deleted = step("merge_gone_users", gone_users_step, p);
    result.groups.deleted = step("merge_gone_groups", gone_groups_step, p);
    clear_staging(db, dir);

    auto const counts = db.exec_prepared(
        "merge_counts",
        "SELECT (SELECT count(*) FROM users WHERE directory_id = $1), (SELECT count(*) FROM "
        "groups WHERE directory_id = $1), (SELECT count(*) FROM memberships WHERE directory_id = "
        "$1)",
        {dir});
    result.user_count = counts.integer(0, 0);
    result.group_count = counts.integer(0, 1);
    result.membership_count = counts.integer(0, 2);
    db.exec_prepared(
        "merge_sync_state",
        "INSERT INTO sync_state (directory_id, full_sync_started_at, full_sync_finished_at, "
        "user_count, group_count, membership_count, membership_strategy, request_count, "
        "last_error, last_error_at) VALUES ($1, $2::timestamptz, $3::timestamptz, $4::bigint, "
        "$5::bigint, $6::bigint, $7, $8::bigint, NULL, NULL) ON CONFLICT (directory_id) DO UPDATE "
        "SET full_sync_started_at = excluded.full_sync_started_at, full_sync_finished_at = "
        "excluded.full_sync_finished_at, user_count = excluded.user_count, group_count = "
        "excluded.group_count, membership_count = excluded.membership_count, "
        "membership_strategy = excluded.membership_strategy, request_count = "
        "excluded.request_count, last_error = NULL, last_error_at = NULL, held_reason = NULL, "
        "held_at = NULL",
        {dir, started_at, now, std::to_string(result.user_count),
         std::to_string(result.group_count), std::to_string(result.membership_count),
         record.strategy, std::to_string(record.requests)});
    feed.notify_before_commit();
    tx.commit();
    return result;
}

bool delete_directory(Connection& db, std::string const& directory_id, std::string const& now)
{
    ChangeFeed feed(db);
    Transaction tx(db);
    bool const mirrored = delete_directory_rows(db, feed, directory_id, now);
    feed.notify_before_commit();
    tx.commit();
    return mirrored;
}

} // namespace dirsync::pg
