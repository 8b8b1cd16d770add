// MirrorStore: the merge of a staged directory into the live tables, and directory removal. Each
// is one transaction, so a reader sees a directory as it was or as it is, never half-merged.
#include "store/database.hpp"
#include "store/merge_sql.hpp"
#include "store/mirror_store.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

namespace dirsync::store {
using namespace sql;

namespace {

void record_full_sync(SQLite::Database& db, std::string const& dir, std::string const& started_at,
                      std::string const& now, MergeResult const& result, SyncRecord const& record)
{
    SQLite::Statement state(
        db, "INSERT INTO sync_state (directory_id, full_sync_started_at, full_sync_finished_at, "
            "user_count, group_count, membership_count, membership_strategy, request_count, "
            "last_error, last_error_at) VALUES (:dir, :started, :now, :users, :groups, :members, "
            ":strategy, :requests, NULL, NULL) ON CONFLICT (directory_id) DO UPDATE SET "
            "full_sync_started_at = excluded.full_sync_started_at, "
            "full_sync_finished_at = excluded.full_sync_finished_at, "
            "user_count = excluded.user_count, group_count = excluded.group_count, "
            "membership_count = excluded.membership_count, "
            "membership_strategy = excluded.membership_strategy, "
            "request_count = excluded.request_count, last_error = NULL, last_error_at = NULL, "
            "held_reason = NULL, held_at = NULL");
    state.bind(":dir", dir);
    state.bind(":started", started_at);
    state.bind(":now", now);
    state.bind(":users", result.user_count);
    state.bind(":groups", result.group_count);
    state.bind(":members", result.membership_count);
    state.bind(":strategy", record.strategy);
    state.bind(":requests", static_cast<std::int64_t>(record.requests));
    state.exec();
}

} // namespace

MergeResult MirrorStore::merge_directory(Directory const& directory, SyncRecord const& record,
                                         std::string const& now)
{
    auto const& dir = directory.id;
    auto run_row = load_staging(dir);
    if (!run_row)
        throw std::logic_error("merge_directory: no staging run for directory " + dir);

    MergeResult result;
    sql::WriteTransaction tx(db_);
    // records a step's changes rows, then applies just those; returns the rows applied
    auto const step = [&](MergeStep const& s) {
        auto const since = db_.execAndGet("SELECT COALESCE(MAX(seq), 0) FROM changes").getInt64();
        Params const p{.dir = dir, .now = now, .since_seq = since};
        run(db_, s.record, p);
        return run(db_, s.apply, p);
    };
    result.directory_changed = upsert_directory(db_, directory, now);
    result.groups.upserted = step(merge_upserts(groups_table));
    result.users.upserted = step(merge_upserts(users_table));
    result.memberships.upserted = step(merge_added_memberships());
    result.memberships.deleted = step(merge_removed_memberships());
    result.memberships.deleted += step(merge_memberships_of_gone());
    result.users.deleted = step(merge_deletes(users_table));
    result.groups.deleted = step(merge_deletes(groups_table));
    clear_staging(db_, dir);

    result.user_count = count_where(db_, "users", dir);
    result.group_count = count_where(db_, "groups", dir);
    result.membership_count = count_where(db_, "memberships", dir);
    record_full_sync(db_, dir, run_row->started_at.text, now, result, record);
    tx.commit();
    reclaim_free_pages(db_);
    return result;
}

bool MirrorStore::delete_directory(std::string const& directory_id, std::string const& now)
{
    sql::WriteTransaction tx(db_);
    bool const mirrored = delete_directory_rows(db_, directory_id, now);
    tx.commit();
    reclaim_free_pages(db_);
    return mirrored;
}

std::vector<std::string> MirrorStore::directory_ids()
{
    SQLite::Statement q(db_, "SELECT id FROM directories ORDER BY id");
    std::vector<std::string> out;
    while (q.executeStep())
        out.push_back(q.getColumn(0).getString());
    return out;
}

std::optional<MirrorStore::MembershipPages>
MirrorStore::membership_pages(std::string const& directory_id)
{
    // a group (or user) with n memberships takes max(1, ceil(n / 100)) pages; those with none, 1
    // (the users' extra pages in one pass over the directory's memberships, in user order)
    SQLite::Statement q(
        db_, "SELECT (SELECT COUNT(*) FROM users WHERE directory_id = :dir), "
             "(SELECT COUNT(*) FROM groups WHERE directory_id = :dir), "
             "(SELECT COALESCE(SUM(MAX(0, ((SELECT COUNT(*) FROM memberships m WHERE m.group_id "
             "= g.id) + 99) / 100 - 1)), 0) FROM groups g WHERE g.directory_id = :dir), "
             "(SELECT COALESCE(SUM(MAX(0, (n + 99) / 100 - 1)), 0) FROM (SELECT COUNT(*) AS n "
             "FROM memberships WHERE directory_id = :dir GROUP BY user_id)), "
             "EXISTS (SELECT 1 FROM directories WHERE id = :dir)");
    q.bind(":dir", directory_id);
    q.executeStep();
    if (q.getColumn(4).getInt() == 0)
        return std::nullopt;
    MembershipPages p;
    p.users = q.getColumn(0).getInt64();
    p.groups = q.getColumn(1).getInt64();
    p.per_group = static_cast<double>(p.groups + q.getColumn(2).getInt64());
    p.per_user = static_cast<double>(p.users + q.getColumn(3).getInt64());
    return p;
}

} // namespace dirsync::store
