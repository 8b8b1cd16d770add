#include "store/store_sql.hpp"

#include "store/merge_sql.hpp"

#include <fmt/format.h>

#include <type_traits>

namespace dirsync::store::sql {

EntityTable const users_table{"users",
                              "staged_users",
                              "user",
                              {"id", "directory_id", "organization_id", "idp_id", "email",
                               "first_name", "last_name", "state", "role", "raw_json",
                               "updated_at_us"},
                              {"directory_id", "organization_id", "email"}};

EntityTable const groups_table{
    "groups",
    "staged_groups",
    "group",
    {"id", "directory_id", "organization_id", "idp_id", "name", "raw_json", "updated_at_us"},
    {"directory_id", "name"}};

void bind_named(SQLite::Statement& st, Params const& p)
{
    // A parameter the statement does not name has index 0: nothing to bind.
    auto text = [&st](char const* name, std::optional<std::string> const& v) {
        if (v && st.getIndex(name) > 0)
            st.bind(name, *v);
    };
    auto number = [&st](char const* name, std::optional<std::int64_t> const& v) {
        if (v && st.getIndex(name) > 0)
            st.bind(name, *v);
    };
    text(":dir", p.dir);
    text(":now", p.now);
    number(":since_seq", p.since_seq);
}

int run(SQLite::Database& db, std::string const& sql, Params const& params)
{
    SQLite::Statement st(db, sql);
    bind_named(st, params);
    return st.exec();
}

void bind_opt(SQLite::Statement& st, char const* name, std::optional<std::string> const& v)
{
    if (v)
        st.bind(name, *v);
    else
        st.bind(name);
}

std::optional<std::string> optional_text(SQLite::Statement& q, int column)
{
    auto const c = q.getColumn(column);
    return c.isNull() ? std::nullopt : std::optional<std::string>(c.getString());
}

void rearm(SQLite::Statement& st)
{
    // tryReset, not reset: reset() rethrows the error the last run ended with, and a statement
    // that failed on a poison event must not fail the next event too.
    st.tryReset();
    st.clearBindings();
}

std::int64_t count_where(SQLite::Database& db, char const* table, std::string const& dir)
{
    SQLite::Statement q(db,
                        fmt::format("SELECT COUNT(*) FROM {} WHERE directory_id = :dir", table));
    q.bind(":dir", dir);
    q.executeStep();
    return q.getColumn(0).getInt64();
}

ChangeLog::ChangeLog(SQLite::Database& db)
    : insert_(db, "INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) VALUES "
                  "(:now, :dir, :entity, :id, :op)")
{
}

void ChangeLog::record(std::string const& now, std::string const& directory_id, char const* entity,
                       std::string const& entity_id, char const* op)
{
    // by position, without copies: the arguments outlive the run, and rearm() clears them
    rearm(insert_);
    insert_.bindNoCopy(1, now);
    insert_.bindNoCopy(2, directory_id);
    insert_.bindNoCopy(3, entity);
    insert_.bindNoCopy(4, entity_id);
    insert_.bindNoCopy(5, op);
    insert_.exec();
}

bool upsert_directory(SQLite::Database& db, Directory const& d, std::string const& now)
{
    static std::vector<char const*> const columns{
        "id",    "organization_id", "name",       "domain",   "type",
        "state", "created_at",      "updated_at", "raw_json", "updated_at_us"};
    SQLite::Statement up(
        db, upsert("directories", columns, values(columns), newer_and_different("directories")));
    up.bind(":id", d.id);
    bind_opt(up, ":organization_id", d.organization_id);
    bind_opt(up, ":name", d.name);
    bind_opt(up, ":domain", d.domain);
    bind_opt(up, ":type", d.type);
    up.bind(":state", d.state);
    up.bind(":created_at", d.created_at.text);
    up.bind(":updated_at", d.updated_at.text);
    up.bind(":raw_json", d.raw_json);
    up.bind(":updated_at_us", d.updated_at.micros);
    if (up.exec() == 0)
        return false;
    ChangeLog(db).record(now, d.id, "directory", d.id, "upsert");
    return true;
}

namespace {

// Binds `value` to the parameter `name` when the statement has it. Text is bound without a
// copy (a user's raw_json is about 1 KB): the entity outlives the run it is bound for, and
// rearm() clears the bindings before the statement runs again.
template <class V>
void bind_if_named(SQLite::Statement& st, char const* name, V const& value)
{
    int const index = st.getIndex(name);
    if (index == 0)
        return;
    if constexpr (std::is_same_v<V, std::optional<std::string>>) {
        if (value)
            st.bindNoCopy(index, *value);
        else
            st.bind(index);
    } else if constexpr (std::is_same_v<V, std::string>) {
        st.bindNoCopy(index, value);
    } else {
        st.bind(index, value);
    }
}

} // namespace

void bind_entity(SQLite::Statement& st, User const& u)
{
    bind_if_named(st, ":id", u.id);
    bind_if_named(st, ":directory_id", u.directory_id);
    bind_if_named(st, ":organization_id", u.organization_id);
    bind_if_named(st, ":idp_id", u.idp_id);
    bind_if_named(st, ":email", u.email);
    bind_if_named(st, ":first_name", u.first_name);
    bind_if_named(st, ":last_name", u.last_name);
    bind_if_named(st, ":state", u.state);
    bind_if_named(st, ":role", u.role);
    bind_if_named(st, ":raw_json", u.raw_json);
    bind_if_named(st, ":updated_at_us", u.updated_at.micros);
}

void bind_entity(SQLite::Statement& st, Group const& g)
{
    bind_if_named(st, ":id", g.id);
    bind_if_named(st, ":directory_id", g.directory_id);
    bind_if_named(st, ":organization_id", g.organization_id);
    bind_if_named(st, ":idp_id", g.idp_id);
    bind_if_named(st, ":name", g.name);
    bind_if_named(st, ":raw_json", g.raw_json);
    bind_if_named(st, ":updated_at_us", g.updated_at.micros);
}

void clear_staging(SQLite::Database& db, std::string const& directory_id)
{
    for (char const* table :
         {"staging.membership_diff", "staging.owners", "staging.pending_deletes",
          "staging.staged_users", "staging.staged_groups", "staging.runs", "full_sync_runs",
          "resync_touched"})
        run(db, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table),
            {.dir = directory_id});
}

bool delete_directory_rows(SQLite::Database& db, std::string const& directory_id,
                           std::string const& now)
{
    SQLite::Statement probe(db, "SELECT 1 FROM directories WHERE id = :dir");
    probe.bind(":dir", directory_id);
    bool const mirrored = probe.executeStep();
    probe.reset();

    Params const p{.dir = directory_id, .now = now};
    // memberships, users and groups first, then the directory: the order the README documents
    for (char const* select :
         {"SELECT :now, :dir, 'membership', user_id || ':' || group_id, 'delete' "
          "FROM memberships WHERE directory_id = :dir ORDER BY user_id, group_id",
          "SELECT :now, :dir, 'user', id, 'delete' FROM users WHERE directory_id = :dir ORDER BY "
          "id",
          "SELECT :now, :dir, 'group', id, 'delete' FROM groups WHERE directory_id = :dir "
          "ORDER BY id",
          "SELECT :now, :dir, 'directory', id, 'delete' FROM directories WHERE id = :dir"})
        run(db,
            std::string("INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) ") +
                select,
            p);
    for (char const* table : {"memberships", "users", "groups", "sync_state"})
        run(db, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table), p);
    run(db, "DELETE FROM directories WHERE id = :dir", p);
    clear_staging(db, directory_id);
    return mirrored;
}

} // namespace dirsync::store::sql
