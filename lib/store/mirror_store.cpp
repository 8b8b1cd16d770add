#include "store/mirror_store.hpp"

#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace dirsync::store {
using namespace sql;

char const* phase_name(Phase p)
{
    switch (p) {
    case Phase::groups:
        return "groups";
    case Phase::users:
        return "users";
    case Phase::memberships:
        return "memberships";
    case Phase::done:
        return "done";
    }
    return "?";
}

namespace {

Phase phase_from(std::string const& s)
{
    if (s == "users")
        return Phase::users;
    if (s == "memberships")
        return Phase::memberships;
    if (s == "done")
        return Phase::done;
    return Phase::groups;
}

void keep(SQLite::Statement& st, std::string const& directory_id, std::span<std::string const> ids)
{
    for (auto const& id : ids) {
        rearm(st);
        st.bind(":id", id);
        st.bind(":dir", directory_id);
        st.exec();
    }
}

std::vector<std::string> ids_after(SQLite::Database& db, char const* table, std::string const& dir,
                                   std::optional<std::string> const& from, bool inclusive,
                                   int limit)
{
    SQLite::Statement q(db, fmt::format("SELECT id FROM {} WHERE directory_id = :dir AND "
                                        "(:from IS NULL OR id {} :from) ORDER BY id LIMIT :limit",
                                        table, inclusive ? ">=" : ">"));
    q.bind(":dir", dir);
    bind_opt(q, ":from", from);
    q.bind(":limit", limit);
    std::vector<std::string> out;
    while (q.executeStep())
        out.push_back(q.getColumn(0).getString());
    return out;
}

// --- the merge ---
//
// Events keep arriving while a directory is listed (daemon mode). What an event changed after the
// listing began is newer than the snapshot, so the merge leaves alone every object with a change
// row in (:start_seq, :merge_seq]: the window between begin_staging and the merge's own writes.
// An object deleted by an event (a tombstone as new as the staged copy) is not brought back.

std::string touched_by_event(char const* entity, char const* id_expr)
{
    return fmt::format("EXISTS (SELECT 1 FROM changes c WHERE c.entity_id = {} AND c.entity = "
                       "'{}' AND c.seq > :start_seq AND c.seq <= :merge_seq)",
                       id_expr, entity);
}

struct MergeWindow {
    std::int64_t start_seq;
    std::int64_t merge_seq;
};

int run_merge(SQLite::Database& db, std::string const& statement, std::string const& dir,
              std::string const& now, MergeWindow w)
{
    SQLite::Statement st(db, statement);
    st.bind(":dir", dir);
    if (statement.find(":now") != std::string::npos)
        st.bind(":now", now);
    if (statement.find(":start_seq") != std::string::npos) {
        st.bind(":start_seq", w.start_seq);
        st.bind(":merge_seq", w.merge_seq);
    }
    return st.exec();
}

// Upserts the staged rows of one entity type that are new or changed, recording each in
// `changes`. A live row with a newer updated_at is left alone.
int merge_upserts(SQLite::Database& db, EntityTable const& t, std::string const& dir,
                  std::string const& now, MergeWindow w)
{
    auto const eligible = fmt::format(
        "s.directory_id = :dir AND s.raw_json IS NOT NULL AND NOT {0} AND NOT EXISTS (SELECT 1 "
        "FROM tombstones tb WHERE tb.entity = '{1}' AND tb.id = s.id AND tb.updated_at_us >= "
        "s.updated_at_us)",
        touched_by_event(t.entity, "s.id"), t.entity);
    run_merge(db,
              fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                          "SELECT :now, :dir, '{2}', s.id, 'upsert' FROM {1} s LEFT JOIN {0} t "
                          "ON t.id = s.id WHERE {3} AND (t.id IS NULL OR (t.raw_json IS NOT "
                          "s.raw_json AND s.updated_at_us >= t.updated_at_us)) ORDER BY s.id",
                          t.live, t.staged, t.entity, eligible),
              dir, now, w);
    return run_merge(db,
                     fmt::format("INSERT INTO {0} ({2}) SELECT {4} FROM {1} s WHERE {5} "
                                 "ON CONFLICT (id) DO UPDATE SET {3} "
                                 "WHERE {0}.raw_json IS NOT excluded.raw_json "
                                 "AND excluded.updated_at_us >= {0}.updated_at_us",
                                 t.live, t.staged, column_list(t.columns, ""),
                                 update_list(t.columns), column_list(t.columns, "s."), eligible),
                     dir, now, w);
}

// Deletes the live rows of the directory that were not staged (and that no event touched since
// the listing began), recording each in `changes`.
int merge_deletes(SQLite::Database& db, EntityTable const& t, std::string const& dir,
                  std::string const& now, MergeWindow w)
{
    auto const id = fmt::format("{}.id", t.live);
    auto const missing = fmt::format("{0}.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM {1} s "
                                     "WHERE s.id = {0}.id) AND NOT {2}",
                                     t.live, t.staged, touched_by_event(t.entity, id.c_str()));
    run_merge(db,
              fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                          "SELECT :now, :dir, '{1}', id, 'delete' FROM {0} WHERE {2} ORDER BY id",
                          t.live, t.entity, missing),
              dir, now, w);
    return run_merge(db, fmt::format("DELETE FROM {} WHERE {}", t.live, missing), dir, now, w);
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

EntityCounts merge_memberships(SQLite::Database& db, std::string const& dir, std::string const& now,
                               MergeWindow w)
{
    EntityCounts counts;
    auto const is_new = fmt::format(
        "{} AND NOT {} AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = sm.user_id "
        "AND m.group_id = sm.group_id)",
        valid_staged_membership,
        touched_by_event("membership", "sm.user_id || ':' || sm.group_id"));
    run_merge(db,
              fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                          "SELECT :now, :dir, 'membership', sm.user_id || ':' || sm.group_id, "
                          "'upsert' FROM staged_memberships sm WHERE {} "
                          "ORDER BY sm.user_id, sm.group_id",
                          is_new),
              dir, now, w);
    counts.upserted =
        run_merge(db,
                  fmt::format("INSERT INTO memberships (user_id, group_id, directory_id) "
                              "SELECT sm.user_id, sm.group_id, :dir "
                              "FROM staged_memberships sm WHERE {}",
                              is_new),
                  dir, now, w);

    auto const gone = fmt::format(
        "m.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM staged_memberships sm "
        "WHERE sm.user_id = m.user_id AND sm.group_id = m.group_id AND {}) AND NOT {}",
        valid_staged_membership, touched_by_event("membership", "m.user_id || ':' || m.group_id"));
    run_merge(db,
              fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                          "SELECT :now, :dir, 'membership', m.user_id || ':' || m.group_id, "
                          "'delete' FROM memberships m WHERE {} ORDER BY m.user_id, m.group_id",
                          gone),
              dir, now, w);
    counts.deleted =
        run_merge(db, fmt::format("DELETE FROM memberships AS m WHERE {}", gone), dir, now, w);
    // A user or group the snapshot kept because an event touched it may have lost its other end
    // to this merge; never leave such a membership behind.
    counts.deleted += run_merge(
        db,
        "DELETE FROM memberships AS m WHERE m.directory_id = :dir AND (NOT EXISTS (SELECT 1 FROM "
        "users u WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
        "m.group_id))",
        dir, now, w);
    return counts;
}

// A page's copy replaces a staged one unless that one is newer (an event applied to the staging
// of a directory in its first sync).
std::string staging_upsert(EntityTable const& t)
{
    return fmt::format("INSERT INTO {0} ({1}) VALUES ({2}) ON CONFLICT (id) DO UPDATE SET {3} "
                       "WHERE {0}.raw_json IS NULL OR excluded.updated_at_us >= {0}.updated_at_us",
                       t.staged, column_list(t.columns, ""), column_list(t.columns, ":"),
                       update_list(t.columns));
}

std::int64_t max_change_seq(SQLite::Database& db)
{
    return db.execAndGet("SELECT COALESCE(MAX(seq), 0) FROM changes").getInt64();
}

} // namespace

struct MirrorStore::Statements {
    SQLite::Statement stage_user;
    SQLite::Statement stage_group;
    SQLite::Statement keep_user;
    SQLite::Statement keep_group;
    SQLite::Statement stage_membership;
    SQLite::Statement save_progress;

    explicit Statements(SQLite::Database& db)
        : stage_user(db, staging_upsert(users_table))
        , stage_group(db, staging_upsert(groups_table))
        , keep_user(db, "INSERT OR IGNORE INTO staged_users (id, directory_id) VALUES (:id, :dir)")
        , keep_group(db,
                     "INSERT OR IGNORE INTO staged_groups (id, directory_id) VALUES (:id, :dir)")
        , stage_membership(db, "INSERT OR IGNORE INTO staged_memberships (user_id, group_id, "
                               "directory_id) VALUES (:user, :group, :dir)")
        , save_progress(db, "UPDATE staging_runs SET phase = :phase, owner = :owner, "
                            "cursor = :cursor, strategy = COALESCE(:strategy, strategy) "
                            "WHERE directory_id = :dir")
    {
    }
};

MirrorStore::MirrorStore(SQLite::Database& db)
    : db_(db)
    , st_(std::make_unique<Statements>(db))
{
}

MirrorStore::~MirrorStore() = default;

std::optional<StagingRun> MirrorStore::load_staging(std::string const& directory_id)
{
    SQLite::Statement q(db_, "SELECT started_at, started_at_us, phase, owner, cursor, strategy "
                             "FROM staging_runs WHERE directory_id = :dir");
    q.bind(":dir", directory_id);
    if (!q.executeStep())
        return std::nullopt;
    auto opt = [&q](int i) { return optional_text(q, i); };
    StagingRun run;
    run.started_at = {q.getColumn(0).getString(), q.getColumn(1).getInt64()};
    run.progress.phase = phase_from(q.getColumn(2).getString());
    run.progress.owner = opt(3);
    run.progress.cursor = opt(4);
    run.strategy = opt(5);
    return run;
}

void MirrorStore::begin_staging(std::string const& directory_id, Timestamp const& started_at)
{
    sql::WriteTransaction tx(db_);
    clear_staging(db_, directory_id);
    SQLite::Statement ins(db_, "INSERT INTO staging_runs (directory_id, started_at, started_at_us, "
                               "phase, start_seq) VALUES (:dir, :at, :us, 'groups', :seq)");
    ins.bind(":dir", directory_id);
    ins.bind(":at", started_at.text);
    ins.bind(":us", started_at.micros);
    ins.bind(":seq", max_change_seq(db_));
    ins.exec();
    tx.commit();
}

void MirrorStore::set_progress(std::string const& directory_id, Progress const& next,
                               std::optional<std::string> const& strategy)
{
    auto& st = st_->save_progress;
    rearm(st);
    st.bind(":dir", directory_id);
    st.bind(":phase", phase_name(next.phase));
    bind_opt(st, ":owner", next.owner);
    bind_opt(st, ":cursor", next.cursor);
    bind_opt(st, ":strategy", strategy);
    if (st.exec() != 1)
        throw std::logic_error("set_progress: no staging run for directory " + directory_id);
}

void MirrorStore::stage_groups(std::string const& directory_id, std::span<Group const> groups,
                               std::span<std::string const> kept_ids, Progress const& next)
{
    sql::WriteTransaction tx(db_);
    auto& st = st_->stage_group;
    for (auto const& g : groups) {
        rearm(st);
        bind_group(st, g);
        st.bind(":directory_id", directory_id);
        st.exec();
    }
    keep(st_->keep_group, directory_id, kept_ids);
    set_progress(directory_id, next, std::nullopt);
    tx.commit();
}

void MirrorStore::stage_users(std::string const& directory_id, std::span<User const> users,
                              std::span<std::string const> kept_ids,
                              std::span<MembershipPair const> memberships, Progress const& next)
{
    sql::WriteTransaction tx(db_);
    auto& st = st_->stage_user;
    for (auto const& u : users) {
        rearm(st);
        bind_user(st, u);
        st.bind(":directory_id", directory_id);
        st.exec();
    }
    keep(st_->keep_user, directory_id, kept_ids);
    for (auto const& m : memberships) {
        auto& sm = st_->stage_membership;
        rearm(sm);
        sm.bind(":user", m.user_id);
        sm.bind(":group", m.group_id);
        sm.bind(":dir", directory_id);
        sm.exec();
    }
    set_progress(directory_id, next, std::nullopt);
    tx.commit();
}

void MirrorStore::stage_memberships(std::string const& directory_id,
                                    std::span<MembershipPair const> memberships,
                                    Progress const& next)
{
    stage_users(directory_id, {}, {}, memberships, next);
}

std::int64_t MirrorStore::staged_user_count(std::string const& directory_id)
{
    return count_where(db_, "staged_users", directory_id);
}

std::int64_t MirrorStore::staged_group_count(std::string const& directory_id)
{
    return count_where(db_, "staged_groups", directory_id);
}

std::vector<std::string> MirrorStore::staged_group_ids(std::string const& directory_id,
                                                       std::optional<std::string> const& from,
                                                       bool inclusive, int limit)
{
    return ids_after(db_, "staged_groups", directory_id, from, inclusive, limit);
}

std::vector<std::string> MirrorStore::staged_user_ids(std::string const& directory_id,
                                                      std::optional<std::string> const& from,
                                                      bool inclusive, int limit)
{
    return ids_after(db_, "staged_users", directory_id, from, inclusive, limit);
}

MirrorStore::PendingDeletions MirrorStore::pending_deletions(std::string const& directory_id)
{
    PendingDeletions p;
    auto gone = [&](EntityTable const& t) {
        SQLite::Statement q(db_, fmt::format("SELECT COUNT(*) FROM {0} WHERE {0}.directory_id = "
                                             ":dir AND NOT EXISTS (SELECT 1 FROM {1} s WHERE "
                                             "s.id = {0}.id)",
                                             t.live, t.staged));
        q.bind(":dir", directory_id);
        q.executeStep();
        return q.getColumn(0).getInt64();
    };
    p.live_users = count_where(db_, "users", directory_id);
    p.staged_users = count_where(db_, "staged_users", directory_id);
    p.users = gone(users_table);
    p.live_groups = count_where(db_, "groups", directory_id);
    p.groups = gone(groups_table);
    return p;
}

void MirrorStore::record_hold(std::string const& directory_id, std::string const& reason,
                              std::string const& now)
{
    SQLite::Statement st(db_, "INSERT INTO sync_state (directory_id, held_reason, held_at) "
                              "VALUES (:dir, :reason, :now) ON CONFLICT (directory_id) DO UPDATE "
                              "SET held_reason = excluded.held_reason, held_at = excluded.held_at");
    st.bind(":dir", directory_id);
    st.bind(":reason", reason);
    st.bind(":now", now);
    st.exec();
}

MergeResult MirrorStore::merge_directory(Directory const& directory, SyncRecord const& record,
                                         std::string const& now)
{
    auto const& dir = directory.id;
    auto run_row = load_staging(dir);
    if (!run_row)
        throw std::logic_error("merge_directory: no staging run for directory " + dir);

    MergeResult result;
    sql::WriteTransaction tx(db_);
    SQLite::Statement start(db_, "SELECT start_seq FROM staging_runs WHERE directory_id = :dir");
    start.bind(":dir", dir);
    start.executeStep();
    MergeWindow const w{start.getColumn(0).getInt64(), max_change_seq(db_)};

    result.directory_changed = upsert_directory(db_, directory, now);
    result.groups.upserted = merge_upserts(db_, groups_table, dir, now, w);
    result.users.upserted = merge_upserts(db_, users_table, dir, now, w);
    result.memberships = merge_memberships(db_, dir, now, w);
    result.users.deleted = merge_deletes(db_, users_table, dir, now, w);
    result.groups.deleted = merge_deletes(db_, groups_table, dir, now, w);
    clear_staging(db_, dir);

    result.user_count = count_where(db_, "users", dir);
    result.group_count = count_where(db_, "groups", dir);
    result.membership_count = count_where(db_, "memberships", dir);

    SQLite::Statement state(
        db_, "INSERT INTO sync_state (directory_id, full_sync_started_at, full_sync_finished_at, "
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
    state.bind(":started", run_row->started_at.text);
    state.bind(":now", now);
    state.bind(":users", result.user_count);
    state.bind(":groups", result.group_count);
    state.bind(":members", result.membership_count);
    state.bind(":strategy", record.strategy);
    state.bind(":requests", static_cast<std::int64_t>(record.requests));
    state.exec();
    tx.commit();
    return result;
}

bool MirrorStore::delete_directory(std::string const& directory_id, std::string const& now)
{
    sql::WriteTransaction tx(db_);
    bool const mirrored = delete_directory_rows(db_, directory_id, now);
    tx.commit();
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

std::vector<MirrorStore::DirectoryStatus> MirrorStore::directory_status()
{
    SQLite::Statement q(
        db_, "WITH ids AS (SELECT id FROM directories UNION SELECT directory_id FROM sync_state) "
             "SELECT ids.id, COALESCE(d.name, ''), "
             "(SELECT COUNT(*) FROM users u WHERE u.directory_id = ids.id), "
             "(SELECT COUNT(*) FROM groups g WHERE g.directory_id = ids.id), "
             "(SELECT COUNT(*) FROM memberships m WHERE m.directory_id = ids.id), "
             "s.full_sync_finished_at, s.membership_strategy, s.last_error, s.last_error_at, "
             "EXISTS (SELECT 1 FROM staging_runs r WHERE r.directory_id = ids.id) "
             "FROM ids LEFT JOIN directories d ON d.id = ids.id "
             "LEFT JOIN sync_state s ON s.directory_id = ids.id ORDER BY ids.id");
    auto opt = [&q](int i) { return optional_text(q, i); };
    std::vector<DirectoryStatus> out;
    while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                       q.getColumn(2).getInt64(), q.getColumn(3).getInt64(),
                       q.getColumn(4).getInt64(), opt(5), opt(6), opt(7), opt(8),
                       q.getColumn(9).getInt() != 0});
    return out;
}

void MirrorStore::record_error(std::string const& directory_id, std::string const& message,
                               std::string const& now)
{
    SQLite::Statement st(db_, "INSERT INTO sync_state (directory_id, last_error, last_error_at) "
                              "VALUES (:dir, :msg, :now) ON CONFLICT (directory_id) DO UPDATE SET "
                              "last_error = excluded.last_error, "
                              "last_error_at = excluded.last_error_at");
    st.bind(":dir", directory_id);
    st.bind(":msg", message);
    st.bind(":now", now);
    st.exec();
}

} // namespace dirsync::store
