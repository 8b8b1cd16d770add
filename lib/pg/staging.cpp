#include "pg/staging.hpp"

#include "pg/entity_tables.hpp"
#include "pg/mirror_rows.hpp"
#include "pg/transaction.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>

namespace dirsync::pg {
namespace {

std::string new_run_id()
{
    static std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:016x}", rng());
}

// The page's ids, records and kept ones, sorted byte-wise (as COLLATE "C" compares) and unique.
template <class T>
std::vector<std::string> ids_of(std::span<T const> records, std::span<std::string const> kept)
{
    std::vector<std::string> ids(kept.begin(), kept.end());
    for (auto const& r : records)
        ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

// The page's records as one array per column (the first copy of an id that comes twice).
template <class T>
std::vector<std::vector<std::optional<std::string>>> columns_of(std::span<T const> records)
{
    std::set<std::string, std::less<>> seen;
    std::vector<std::vector<std::optional<std::string>>> cols;
    for (auto const& r : records) {
        if (!seen.insert(r.id).second)
            continue;
        Params row;
        if constexpr (std::is_same_v<T, User>)
            row = {r.id,
                   r.directory_id,
                   r.organization_id,
                   r.idp_id,
                   r.email,
                   r.first_name,
                   r.last_name,
                   r.state,
                   r.role,
                   r.created_at.text,
                   r.updated_at.text,
                   r.raw_json,
                   std::to_string(r.updated_at.micros)};
        else
            row = {r.id,
                   r.directory_id,
                   r.organization_id,
                   r.idp_id,
                   r.name,
                   r.created_at.text,
                   r.updated_at.text,
                   r.raw_json,
                   std::to_string(r.updated_at.micros)};
        cols.resize(row.size());
        for (std::size_t c = 0; c < row.size(); ++c)
            cols[c].push_back(std::move(row[c]));
    }
    return cols;
}

// Stages the records that are new or differ from the mirror's copy; a staged copy newer than the
// page's (an event's) wins.
std::string stage_sql(EntityTable const& t)
{
    std::string arrays, names;
    int n = 0;
    for (auto const& c : t.columns) {
        ++n;
        arrays += fmt::format("{}${}::{}[]", n > 1 ? ", " : "", n, c.type);
        names += fmt::format("{}{}", n > 1 ? ", " : "", c.name);
    }
    return fmt::format(
        "INSERT INTO {0} AS s ({1}) SELECT b.* FROM unnest({2}) AS b ({1}) LEFT JOIN {3} t ON t.id "
        "= b.id WHERE t.id IS NULL OR t.raw_json IS DISTINCT FROM b.raw_json ON CONFLICT (id) DO "
        "UPDATE SET {4} WHERE excluded.updated_at_us >= s.updated_at_us",
        t.staged, names, arrays, t.live, set_from_excluded(t));
}

} // namespace

std::optional<store::StagingRun> Staging::load(std::string const& directory_id)
{
    auto const r = db_.exec(
        "SELECT r.run_id, " + iso_text("r.started_at") +
            ", r.started_at_us, r.phase, r.cursor, r.strategy, r.listed_groups, r.listed_users "
            "FROM staging_runs r JOIN full_sync_runs f ON f.directory_id = r.directory_id AND "
            "f.run_id = r.run_id WHERE r.directory_id = $1",
        {directory_id});
    if (r.rows() == 0) {
        auto const any = db_.exec("SELECT (SELECT count(*) FROM staging_runs WHERE directory_id = "
                                  "$1) + (SELECT count(*) FROM full_sync_runs WHERE directory_id "
                                  "= $1)",
                                  {directory_id});
        if (any.integer(0, 0) > 0) // half-made, stale, or emptied by a server crash
            discard(directory_id);
        return std::nullopt;
    }
    store::StagingRun run;
    run.run_id = r.text(0, 0);
    run.started_at = {r.text(0, 1), r.integer(0, 2)};
    run.progress = {store::phase_from_name(r.text(0, 3)), r.optional_text(0, 4)};
    run.strategy = r.optional_text(0, 5);
    run.listed_groups = r.integer(0, 6);
    run.listed_users = r.integer(0, 7);
    return run;
}

void Staging::begin(std::string const& directory_id, Timestamp const& started_at)
{
    auto const run_id = new_run_id();
    Transaction tx(db_);
    clear_staging(db_, directory_id);
    db_.exec("INSERT INTO full_sync_runs (directory_id, run_id, started_at) VALUES ($1, $2, "
             "$3::timestamptz)",
             {directory_id, run_id, started_at.text});
    db_.exec("INSERT INTO staging_runs (directory_id, run_id, started_at, started_at_us, phase) "
             "VALUES ($1, $2, $3::timestamptz, $4::bigint, 'groups')",
             {directory_id, run_id, started_at.text, std::to_string(started_at.micros)});
    tx.commit();
}

void Staging::discard(std::string const& directory_id)
{
    Transaction tx(db_);
    clear_staging(db_, directory_id);
    tx.commit();
}

std::string Staging::listing_high(std::string const& directory_id)
{
    auto const r = db_.exec_prepared(
        "staging_high", "SELECT COALESCE(high_id, '') FROM staging_runs WHERE directory_id = $1",
        {directory_id});
    if (r.rows() == 0)
        throw std::logic_error("no staging run for directory " + directory_id);
    return r.text(0, 0);
}

void Staging::save_position(std::string const& directory_id, store::Progress const& next,
                            std::optional<std::string> const& high, std::int64_t groups,
                            std::int64_t users)
{
    db_.exec_prepared("staging_position",
                      "UPDATE staging_runs SET phase = $2, cursor = $3, high_id = $4, "
                      "listed_groups = listed_groups + $5::bigint, listed_users = listed_users + "
                      "$6::bigint WHERE directory_id = $1",
                      {directory_id, store::phase_name(next.phase), next.cursor, high,
                       std::to_string(groups), std::to_string(users)});
}

std::string Staging::compare_ids(char const* entity, std::string const& directory_id,
                                 std::vector<std::string> const& ids, std::string const& lo,
                                 bool last)
{
    auto const& t = std::string_view(entity) == "user" ? users_table : groups_table;
    auto const listed = text_array(ids);
    // listed after all (a page out of order, or again): not gone
    db_.exec_prepared(fmt::format("unpend_{}", entity),
                      "DELETE FROM staged_deletions WHERE entity = $1 AND id = ANY($2::text[])",
                      {entity, listed});
    if (ids.empty() && !last)
        return lo;
    // the mirrored rows above what was compared, up to the page's last id (or to the end),
    // that the page does not list: passed over
    db_.exec_prepared(
        fmt::format("pend_{}", entity),
        fmt::format("INSERT INTO staged_deletions (entity, id, directory_id) SELECT $1, t.id, $3 "
                    "FROM {} t WHERE t.directory_id = $3 AND t.id COLLATE \"C\" > $4 AND "
                    "($5::boolean OR t.id COLLATE \"C\" <= $6) AND NOT (t.id = ANY($2::text[])) "
                    "ON CONFLICT DO NOTHING",
                    t.live),
        {entity, listed, directory_id, lo, last ? "true" : "false",
         ids.empty() ? std::string() : ids.back()});
    return ids.empty() ? lo : std::max(lo, ids.back());
}

std::string Staging::compare_members(std::string const& directory_id, MembershipSource strategy,
                                     std::string const& owner, std::vector<std::string> ids,
                                     std::string const& lo, bool last)
{
    bool const per_group = strategy == MembershipSource::per_group;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<std::string> const owners(ids.size(), owner);
    auto const listed = text_array(ids);
    auto const of_owner = text_array(owners);
    Params const pairs{directory_id, per_group ? listed : of_owner, per_group ? of_owner : listed};
    // listed and not mirrored: added; listed and mirrored: nothing to do (an older difference
    // is dropped)
    db_.exec_prepared(
        "members_add",
        "INSERT INTO staged_membership_diff AS d (directory_id, group_id, user_id, op) SELECT $1, "
        "p.g, p.u, 'add' FROM unnest($2::text[], $3::text[]) AS p (u, g) WHERE NOT EXISTS "
        "(SELECT 1 FROM memberships m WHERE m.user_id = p.u AND m.group_id = p.g) ON CONFLICT "
        "(directory_id, group_id, user_id) DO UPDATE SET op = 'add' WHERE d.op <> 'add'",
        pairs);
    db_.exec_prepared("members_drop",
                      "DELETE FROM staged_membership_diff d USING unnest($2::text[], $3::text[]) "
                      "AS p (u, g) WHERE d.directory_id = $1 AND d.user_id = p.u AND d.group_id "
                      "= p.g AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = p.u AND "
                      "m.group_id = p.g)",
                      pairs);
    if (ids.empty() && !last)
        return lo;
    // mirrored above what was compared and not listed: removed
    auto const owner_column = per_group ? "group_id" : "user_id";
    auto const member_column = per_group ? "user_id" : "group_id";
    db_.exec_prepared(
        per_group ? "members_removed_of_group" : "members_removed_of_user",
        fmt::format("INSERT INTO staged_membership_diff AS d (directory_id, group_id, user_id, "
                    "op) SELECT $1, m.group_id, m.user_id, 'delete' FROM memberships m WHERE "
                    "m.{0} = $2 AND m.{1} COLLATE \"C\" > $3 AND ($4::boolean OR m.{1} COLLATE "
                    "\"C\" <= $5) AND NOT (m.{1} = ANY($6::text[])) ON CONFLICT (directory_id, "
                    "group_id, user_id) DO UPDATE SET op = 'delete' WHERE d.op <> 'delete'",
                    owner_column, member_column),
        {directory_id, owner, lo, last ? "true" : "false", ids.empty() ? std::string() : ids.back(),
         listed});
    return ids.empty() ? lo : std::max(lo, ids.back());
}

void Staging::stage_groups(std::string const& directory_id, std::span<Group const> groups,
                           std::span<std::string const> kept_ids, store::Progress const& next)
{
    bool const last = next.phase != store::Phase::groups;
    auto const ids = ids_of(groups, kept_ids);
    Transaction tx(db_);
    static auto const sql = stage_sql(groups_table);
    if (!groups.empty()) {
        Params arrays;
        for (auto const& col : columns_of(groups))
            arrays.emplace_back(text_array(col));
        db_.exec_prepared("stage_groups", sql, arrays);
    }
    auto const high = compare_ids("group", directory_id, ids, listing_high(directory_id), last);
    save_position(directory_id, next, last ? std::nullopt : std::optional(high),
                  static_cast<std::int64_t>(ids.size()), 0);
    tx.commit();
}

void Staging::stage_users(std::string const& directory_id, std::span<User const> users,
                          std::span<std::string const> kept_ids, Embedded embedded,
                          store::Progress const& next, Owners owners)
{
    bool const last = next.phase != store::Phase::users;
    auto const ids = ids_of(users, kept_ids);
    Transaction tx(db_);
    static auto const sql = stage_sql(users_table);
    if (!users.empty()) {
        Params arrays;
        for (auto const& col : columns_of(users))
            arrays.emplace_back(text_array(col));
        db_.exec_prepared("stage_users", sql, arrays);
    }
    auto const high = compare_ids("user", directory_id, ids, listing_high(directory_id), last);
    if (embedded == Embedded::stage)
        for (auto const& u : users)
            compare_members(directory_id, MembershipSource::per_user, u.id, u.embedded_group_ids,
                            "", true);
    if (owners == Owners::from_page)
        db_.exec_prepared(
            "owners_from_page",
            "INSERT INTO staged_owners (directory_id, id) SELECT $1, unnest($2::text[]) "
            "ON CONFLICT DO NOTHING",
            {directory_id, text_array(ids)});
    save_position(directory_id, next, last ? std::nullopt : std::optional(high), 0,
                  static_cast<std::int64_t>(ids.size()));
    tx.commit();
}

void Staging::begin_memberships(std::string const& directory_id, MembershipSource strategy)
{
    bool const per_group = strategy == MembershipSource::per_group;
    Transaction tx(db_);
    db_.exec("DELETE FROM staged_owners WHERE directory_id = $1", {directory_id});
    // every object the listing found: mirrored and not passed over, or new
    db_.exec(fmt::format("INSERT INTO staged_owners (directory_id, id) SELECT $1, id FROM {0} "
                         "WHERE directory_id = $1 AND id NOT IN (SELECT id FROM staged_deletions "
                         "WHERE directory_id = $1 AND entity = '{1}') UNION SELECT $1, id FROM {2} "
                         "WHERE directory_id = $1",
                         per_group ? "groups" : "users", per_group ? "group" : "user",
                         per_group ? "staged_groups" : "staged_users"),
             {directory_id});
    db_.exec("UPDATE staging_runs SET phase = 'memberships', cursor = NULL, high_id = NULL, "
             "strategy = $2 WHERE directory_id = $1",
             {directory_id, to_string(strategy)});
    tx.commit();
}

void Staging::stream_owners(std::string const& directory_id, MembershipSource strategy)
{
    Transaction tx(db_);
    db_.exec("DELETE FROM staged_owners WHERE directory_id = $1", {directory_id});
    db_.exec("UPDATE staging_runs SET strategy = $2 WHERE directory_id = $1",
             {directory_id, to_string(strategy)});
    tx.commit();
}

std::vector<store::Owner> Staging::pending_owners(std::string const& directory_id,
                                                  std::optional<std::string> const& after,
                                                  int limit)
{
    auto const r = db_.exec_prepared(
        "pending_owners",
        "SELECT id, cursor FROM staged_owners WHERE directory_id = $1 AND NOT done AND id "
        "COLLATE \"C\" > $2 ORDER BY id COLLATE \"C\" LIMIT $3::integer",
        {directory_id, after.value_or(""), std::to_string(limit)});
    std::vector<store::Owner> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back({r.text(i, 0), r.optional_text(i, 1)});
    return out;
}

void Staging::stage_members(std::string const& directory_id, MembershipSource strategy,
                            std::string const& owner, std::span<std::string const> member_ids,
                            std::optional<std::string> const& next)
{
    Transaction tx(db_);
    auto const h = db_.exec_prepared(
        "owner_high",
        "SELECT COALESCE(high_id, '') FROM staged_owners WHERE directory_id = $1 AND id = $2",
        {directory_id, owner});
    if (h.rows() == 0)
        throw std::logic_error("stage_members: " + owner + " is not an owner of " + directory_id);
    auto const high = compare_members(
        directory_id, strategy, owner,
        std::vector<std::string>(member_ids.begin(), member_ids.end()), h.text(0, 0), !next);
    db_.exec_prepared("save_owner",
                      "UPDATE staged_owners SET cursor = $3, high_id = $4, done = $5::boolean "
                      "WHERE directory_id = $1 AND id = $2",
                      {directory_id, owner, next, high, next ? "false" : "true"});
    tx.commit();
}

void Staging::finish_memberships(std::string const& directory_id)
{
    db_.exec("UPDATE staging_runs SET phase = 'done' WHERE directory_id = $1", {directory_id});
}

std::pair<std::int64_t, std::int64_t> Staging::owner_progress(std::string const& directory_id)
{
    auto const r = db_.exec("SELECT count(*), count(*) FILTER (WHERE done) FROM staged_owners "
                            "WHERE directory_id = $1",
                            {directory_id});
    return {r.integer(0, 0), r.integer(0, 1)};
}

store::MirrorWriter::PendingDeletions Staging::pending_deletions(std::string const& directory_id)
{
    auto const r = db_.exec(
        "SELECT (SELECT count(*) FROM users WHERE directory_id = $1), (SELECT COALESCE(max("
        "listed_users), 0) FROM staging_runs WHERE directory_id = $1), (SELECT count(*) FROM "
        "staged_deletions WHERE directory_id = $1 AND entity = 'user'), (SELECT count(*) FROM "
        "groups WHERE directory_id = $1), (SELECT count(*) FROM staged_deletions WHERE "
        "directory_id = $1 AND entity = 'group')",
        {directory_id});
    return {r.integer(0, 0), r.integer(0, 1), r.integer(0, 2), r.integer(0, 3), r.integer(0, 4)};
}

} // namespace dirsync::pg
