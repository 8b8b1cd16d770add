#include "store/mirror_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace dirsync::store {
namespace {

// The live tables that a full sync replaces row by row, and their staging twins. The merge SQL is
// generated from these lists (identifiers only; every value is bound).
struct EntityTable {
    char const* live;
    char const* staged;
    char const* entity; // value of changes.entity
    std::vector<char const*> columns;
};

EntityTable const users_table{"users",
                              "staged_users",
                              "user",
                              {"id", "directory_id", "organization_id", "idp_id", "email",
                               "first_name", "last_name", "state", "role", "custom_attributes",
                               "raw_attributes", "created_at", "updated_at", "raw_json",
                               "updated_at_us"}};

EntityTable const groups_table{"groups",
                               "staged_groups",
                               "group",
                               {"id", "directory_id", "organization_id", "idp_id", "name",
                                "raw_attributes", "created_at", "updated_at", "raw_json",
                                "updated_at_us"}};

std::string join(std::vector<char const*> const& cols, char const* prefix, char const* sep = ", ")
{
    std::string out;
    for (auto const* c : cols) {
        if (!out.empty())
            out += sep;
        out += prefix;
        out += c;
    }
    return out;
}

std::string update_list(std::vector<char const*> const& cols)
{
    std::string out;
    for (auto const* c : cols) {
        if (std::string_view(c) == "id")
            continue;
        if (!out.empty())
            out += ", ";
        out += fmt::format("{0} = excluded.{0}", c);
    }
    return out;
}

void bind_opt(SQLite::Statement& st, char const* name, std::optional<std::string> const& v)
{
    if (v)
        st.bind(name, *v);
    else
        st.bind(name);
}

void rearm(SQLite::Statement& st)
{
    st.reset();
    st.clearBindings();
}

} // namespace

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
} // namespace

struct MirrorStore::Statements {
    SQLite::Statement stage_user;
    SQLite::Statement stage_group;
    SQLite::Statement keep_user;
    SQLite::Statement keep_group;
    SQLite::Statement stage_membership;
    SQLite::Statement save_progress;

    explicit Statements(SQLite::Database& db)
        : stage_user(db, fmt::format("INSERT OR REPLACE INTO staged_users ({}) VALUES ({})",
                                     join(users_table.columns, ""), join(users_table.columns, ":")))
        , stage_group(db,
                      fmt::format("INSERT OR REPLACE INTO staged_groups ({}) VALUES ({})",
                                  join(groups_table.columns, ""), join(groups_table.columns, ":")))
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
    auto opt = [&](int i) {
        return q.getColumn(i).isNull() ? std::nullopt
                                       : std::optional<std::string>(q.getColumn(i).getString());
    };
    StagingRun run;
    run.started_at = {q.getColumn(0).getString(), q.getColumn(1).getInt64()};
    run.progress.phase = phase_from(q.getColumn(2).getString());
    run.progress.owner = opt(3);
    run.progress.cursor = opt(4);
    run.strategy = opt(5);
    return run;
}

namespace {
void clear_staging(SQLite::Database& db, std::string const& directory_id)
{
    for (char const* table :
         {"staged_memberships", "staged_users", "staged_groups", "staging_runs"}) {
        SQLite::Statement del(db, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table));
        del.bind(":dir", directory_id);
        del.exec();
    }
}
} // namespace

void MirrorStore::begin_staging(std::string const& directory_id, Timestamp const& started_at)
{
    SQLite::Transaction tx(db_);
    clear_staging(db_, directory_id);
    SQLite::Statement ins(db_, "INSERT INTO staging_runs (directory_id, started_at, started_at_us, "
                               "phase) VALUES (:dir, :at, :us, 'groups')");
    ins.bind(":dir", directory_id);
    ins.bind(":at", started_at.text);
    ins.bind(":us", started_at.micros);
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

namespace {
void keep(SQLite::Statement& st, std::string const& directory_id, std::span<std::string const> ids)
{
    for (auto const& id : ids) {
        rearm(st);
        st.bind(":id", id);
        st.bind(":dir", directory_id);
        st.exec();
    }
}
} // namespace

void MirrorStore::stage_groups(std::string const& directory_id, std::span<Group const> groups,
                               std::span<std::string const> kept_ids, Progress const& next)
{
    SQLite::Transaction tx(db_);
    auto& st = st_->stage_group;
    for (auto const& g : groups) {
        rearm(st);
        st.bind(":id", g.id);
        st.bind(":directory_id", directory_id);
        bind_opt(st, ":organization_id", g.organization_id);
        bind_opt(st, ":idp_id", g.idp_id);
        st.bind(":name", g.name);
        bind_opt(st, ":raw_attributes", g.raw_attributes);
        st.bind(":created_at", g.created_at.text);
        st.bind(":updated_at", g.updated_at.text);
        st.bind(":raw_json", g.raw_json);
        st.bind(":updated_at_us", g.updated_at.micros);
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
    SQLite::Transaction tx(db_);
    auto& st = st_->stage_user;
    for (auto const& u : users) {
        rearm(st);
        st.bind(":id", u.id);
        st.bind(":directory_id", directory_id);
        bind_opt(st, ":organization_id", u.organization_id);
        bind_opt(st, ":idp_id", u.idp_id);
        bind_opt(st, ":email", u.email);
        bind_opt(st, ":first_name", u.first_name);
        bind_opt(st, ":last_name", u.last_name);
        st.bind(":state", u.state);
        bind_opt(st, ":role", u.role);
        bind_opt(st, ":custom_attributes", u.custom_attributes);
        bind_opt(st, ":raw_attributes", u.raw_attributes);
        st.bind(":created_at", u.created_at.text);
        st.bind(":updated_at", u.updated_at.text);
        st.bind(":raw_json", u.raw_json);
        st.bind(":updated_at_us", u.updated_at.micros);
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

namespace {
std::int64_t count_where(SQLite::Database& db, char const* table, std::string const& dir)
{
    SQLite::Statement q(db,
                        fmt::format("SELECT COUNT(*) FROM {} WHERE directory_id = :dir", table));
    q.bind(":dir", dir);
    q.executeStep();
    return q.getColumn(0).getInt64();
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
} // namespace

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

namespace {

// Runs `sql` with :dir and :now bound (when present) and returns the number of changed rows.
int run(SQLite::Database& db, std::string const& sql, std::string const& dir,
        std::string const& now)
{
    SQLite::Statement st(db, sql);
    st.bind(":dir", dir);
    if (sql.find(":now") != std::string::npos)
        st.bind(":now", now);
    return st.exec();
}

// Upserts the staged rows of one entity type that are new or changed, recording each in
// `changes`. A live row with a newer updated_at (written from an event) is left alone.
int merge_upserts(SQLite::Database& db, EntityTable const& t, std::string const& dir,
                  std::string const& now)
{
    run(db,
        fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                    "SELECT :now, :dir, '{2}', s.id, 'upsert' FROM {1} s LEFT JOIN {0} t "
                    "ON t.id = s.id WHERE s.directory_id = :dir AND s.raw_json IS NOT NULL "
                    "AND (t.id IS NULL OR (t.raw_json IS NOT s.raw_json "
                    "AND s.updated_at_us >= t.updated_at_us)) ORDER BY s.id",
                    t.live, t.staged, t.entity),
        dir, now);
    return run(db,
               fmt::format("INSERT INTO {0} ({2}) SELECT {2} FROM {1} "
                           "WHERE directory_id = :dir AND raw_json IS NOT NULL "
                           "ON CONFLICT (id) DO UPDATE SET {3} "
                           "WHERE {0}.raw_json IS NOT excluded.raw_json "
                           "AND excluded.updated_at_us >= {0}.updated_at_us",
                           t.live, t.staged, join(t.columns, ""), update_list(t.columns)),
               dir, now);
}

// Deletes the live rows of the directory that were not staged, recording each in `changes`.
int merge_deletes(SQLite::Database& db, EntityTable const& t, std::string const& dir,
                  std::string const& now)
{
    auto const missing = fmt::format("{0}.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM {1} s "
                                     "WHERE s.id = {0}.id)",
                                     t.live, t.staged);
    run(db,
        fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                    "SELECT :now, :dir, '{1}', id, 'delete' FROM {0} WHERE {2} ORDER BY id",
                    t.live, t.entity, missing),
        dir, now);
    return run(db, fmt::format("DELETE FROM {} WHERE {}", t.live, missing), dir, now);
}

// A staged membership is kept when both ends were staged for this directory and exist live.
constexpr char const* valid_staged_membership =
    "sm.directory_id = :dir "
    "AND EXISTS (SELECT 1 FROM staged_users su WHERE su.id = sm.user_id AND su.directory_id = "
    ":dir) "
    "AND EXISTS (SELECT 1 FROM staged_groups sg WHERE sg.id = sm.group_id "
    "            AND sg.directory_id = :dir) "
    "AND EXISTS (SELECT 1 FROM users u WHERE u.id = sm.user_id) "
    "AND EXISTS (SELECT 1 FROM groups g WHERE g.id = sm.group_id)";

EntityCounts merge_memberships(SQLite::Database& db, std::string const& dir, std::string const& now)
{
    EntityCounts counts;
    auto const is_new = fmt::format("{} AND NOT EXISTS (SELECT 1 FROM memberships m "
                                    "WHERE m.user_id = sm.user_id AND m.group_id = sm.group_id)",
                                    valid_staged_membership);
    run(db,
        fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                    "SELECT :now, :dir, 'membership', sm.user_id || ':' || sm.group_id, 'upsert' "
                    "FROM staged_memberships sm WHERE {} ORDER BY sm.user_id, sm.group_id",
                    is_new),
        dir, now);
    counts.upserted = run(db,
                          fmt::format("INSERT INTO memberships (user_id, group_id, directory_id) "
                                      "SELECT sm.user_id, sm.group_id, :dir "
                                      "FROM staged_memberships sm WHERE {}",
                                      is_new),
                          dir, now);

    auto const gone =
        fmt::format("m.directory_id = :dir AND NOT EXISTS (SELECT 1 FROM staged_memberships sm "
                    "WHERE sm.user_id = m.user_id AND sm.group_id = m.group_id AND {})",
                    valid_staged_membership);
    run(db,
        fmt::format("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
                    "SELECT :now, :dir, 'membership', m.user_id || ':' || m.group_id, 'delete' "
                    "FROM memberships m WHERE {} ORDER BY m.user_id, m.group_id",
                    gone),
        dir, now);
    counts.deleted = run(db, fmt::format("DELETE FROM memberships AS m WHERE {}", gone), dir, now);
    return counts;
}

bool upsert_directory(SQLite::Database& db, Directory const& d, std::string const& now)
{
    SQLite::Statement up(
        db, "INSERT INTO directories (id, organization_id, name, domain, type, state, created_at, "
            "updated_at, raw_json, updated_at_us) VALUES (:id, :org, :name, :domain, :type, "
            ":state, :created, :updated, :raw, :us) ON CONFLICT (id) DO UPDATE SET "
            "organization_id = excluded.organization_id, name = excluded.name, "
            "domain = excluded.domain, type = excluded.type, state = excluded.state, "
            "created_at = excluded.created_at, updated_at = excluded.updated_at, "
            "raw_json = excluded.raw_json, updated_at_us = excluded.updated_at_us "
            "WHERE directories.raw_json IS NOT excluded.raw_json "
            "AND excluded.updated_at_us >= directories.updated_at_us");
    up.bind(":id", d.id);
    bind_opt(up, ":org", d.organization_id);
    bind_opt(up, ":name", d.name);
    bind_opt(up, ":domain", d.domain);
    bind_opt(up, ":type", d.type);
    up.bind(":state", d.state);
    up.bind(":created", d.created_at.text);
    up.bind(":updated", d.updated_at.text);
    up.bind(":raw", d.raw_json);
    up.bind(":us", d.updated_at.micros);
    if (up.exec() == 0)
        return false;
    SQLite::Statement change(db, "INSERT INTO changes (changed_at, directory_id, entity, "
                                 "entity_id, op) VALUES (:now, :id, 'directory', :id, 'upsert')");
    change.bind(":now", now);
    change.bind(":id", d.id);
    change.exec();
    return true;
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
    SQLite::Transaction tx(db_);
    result.directory_changed = upsert_directory(db_, directory, now);
    result.groups.upserted = merge_upserts(db_, groups_table, dir, now);
    result.users.upserted = merge_upserts(db_, users_table, dir, now);
    result.memberships = merge_memberships(db_, dir, now);
    result.users.deleted = merge_deletes(db_, users_table, dir, now);
    result.groups.deleted = merge_deletes(db_, groups_table, dir, now);
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
             "request_count = excluded.request_count, last_error = NULL, last_error_at = NULL");
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
    SQLite::Transaction tx(db_);
    SQLite::Statement probe(db_, "SELECT 1 FROM directories WHERE id = :dir");
    probe.bind(":dir", directory_id);
    bool const mirrored = probe.executeStep();
    probe.reset();

    auto const record = [&](char const* sql) { run(db_, sql, directory_id, now); };
    record("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
           "SELECT :now, :dir, 'membership', user_id || ':' || group_id, 'delete' "
           "FROM memberships WHERE directory_id = :dir ORDER BY user_id, group_id");
    record("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
           "SELECT :now, :dir, 'user', id, 'delete' FROM users WHERE directory_id = :dir "
           "ORDER BY id");
    record("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
           "SELECT :now, :dir, 'group', id, 'delete' FROM groups WHERE directory_id = :dir "
           "ORDER BY id");
    record("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) "
           "SELECT :now, :dir, 'directory', id, 'delete' FROM directories WHERE id = :dir");
    for (char const* table : {"memberships", "users", "groups", "sync_state"})
        run(db_, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table), directory_id, now);
    run(db_, "DELETE FROM directories WHERE id = :dir", directory_id, now);
    clear_staging(db_, directory_id);
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
