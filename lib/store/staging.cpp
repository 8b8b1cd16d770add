// MirrorStore: staging of a full sync. Pages land in the staged_* tables, each in one transaction
// together with the listing position of the next page, so that an interrupted sync resumes there.
#include "store/merge_sql.hpp"
#include "store/mirror_store.hpp"
#include "store/store_sql.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

namespace dirsync::store {
using namespace sql;

namespace {
// In the order of the enumerators.
constexpr char const* phase_names[] = {"groups", "users", "memberships", "done"};
} // namespace

char const* phase_name(Phase p)
{
    return phase_names[static_cast<std::size_t>(p)];
}

namespace {

Phase phase_from(std::string const& s)
{
    for (std::size_t i = 0; i < std::size(phase_names); ++i)
        if (s == phase_names[i])
            return static_cast<Phase>(i);
    return Phase::groups;
}

// A page's copy replaces a staged one unless that one is newer (an event applied to the staging
// of a directory in its first sync).
std::string staging_upsert(EntityTable const& t)
{
    return upsert(t.staged, t.columns, values(t.columns),
                  fmt::format("{0}.raw_json IS NULL OR excluded.updated_at_us >= "
                              "{0}.updated_at_us",
                              t.staged));
}

// Stages a page's records into their table (as this directory's, whatever they say).
template <class T>
void stage_rows(SQLite::Statement& st, std::string const& directory_id, std::span<T const> rows)
{
    for (auto const& row : rows) {
        rearm(st);
        bind_entity(st, row);
        st.bind(":directory_id", directory_id);
        st.exec();
    }
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

std::vector<std::string> ids_from(SQLite::Database& db, char const* table, std::string const& dir,
                                  std::optional<std::string> const& from, StartAt start, int limit)
{
    SQLite::Statement q(db, fmt::format("SELECT id FROM {} WHERE directory_id = :dir AND "
                                        "(:from IS NULL OR id {} :from) ORDER BY id LIMIT :limit",
                                        table, start == StartAt::at_id ? ">=" : ">"));
    q.bind(":dir", dir);
    bind_opt(q, ":from", from);
    q.bind(":limit", limit);
    std::vector<std::string> out;
    while (q.executeStep())
        out.push_back(q.getColumn(0).getString());
    return out;
}

} // namespace

// Prepared once: staging runs a few statements per record.
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
                               "phase, start_seq) VALUES (:dir, :at, :us, 'groups', "
                               "(SELECT COALESCE(MAX(seq), 0) FROM changes))");
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

void MirrorStore::stage_groups(std::string const& directory_id, std::span<Group const> groups,
                               std::span<std::string const> kept_ids, Progress const& next)
{
    sql::WriteTransaction tx(db_);
    stage_rows(st_->stage_group, directory_id, groups);
    keep(st_->keep_group, directory_id, kept_ids);
    set_progress(directory_id, next, std::nullopt);
    tx.commit();
}

void MirrorStore::stage_users(std::string const& directory_id, std::span<User const> users,
                              std::span<std::string const> kept_ids,
                              std::span<MembershipPair const> memberships, Progress const& next)
{
    sql::WriteTransaction tx(db_);
    stage_rows(st_->stage_user, directory_id, users);
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
                                                       StartAt start, int limit)
{
    return ids_from(db_, "staged_groups", directory_id, from, start, limit);
}

std::vector<std::string> MirrorStore::staged_user_ids(std::string const& directory_id,
                                                      std::optional<std::string> const& from,
                                                      StartAt start, int limit)
{
    return ids_from(db_, "staged_users", directory_id, from, start, limit);
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

} // namespace dirsync::store
