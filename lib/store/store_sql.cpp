#include "store/store_sql.hpp"

#include <fmt/format.h>

namespace dirsync::store::sql {

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

std::optional<std::string> optional_text(SQLite::Statement& q, int column)
{
    auto const c = q.getColumn(column);
    return c.isNull() ? std::nullopt : std::optional<std::string>(c.getString());
}

void rearm(SQLite::Statement& st)
{
    st.reset();
    st.clearBindings();
}

int run(SQLite::Database& db, std::string const& sql, std::string const& dir,
        std::string const& now)
{
    SQLite::Statement st(db, sql);
    st.bind(":dir", dir);
    if (sql.find(":now") != std::string::npos)
        st.bind(":now", now);
    return st.exec();
}

std::int64_t count_where(SQLite::Database& db, char const* table, std::string const& dir)
{
    SQLite::Statement q(db,
                        fmt::format("SELECT COUNT(*) FROM {} WHERE directory_id = :dir", table));
    q.bind(":dir", dir);
    q.executeStep();
    return q.getColumn(0).getInt64();
}

void record_change(SQLite::Database& db, std::string const& now, std::string const& directory_id,
                   char const* entity, std::string const& entity_id, char const* op)
{
    SQLite::Statement st(db, "INSERT INTO changes (changed_at, directory_id, entity, entity_id, "
                             "op) VALUES (:now, :dir, :entity, :id, :op)");
    st.bind(":now", now);
    st.bind(":dir", directory_id);
    st.bind(":entity", entity);
    st.bind(":id", entity_id);
    st.bind(":op", op);
    st.exec();
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
    record_change(db, now, d.id, "directory", d.id, "upsert");
    return true;
}

void bind_user(SQLite::Statement& st, User const& u)
{
    st.bind(":id", u.id);
    st.bind(":directory_id", u.directory_id);
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
}

void bind_group(SQLite::Statement& st, Group const& g)
{
    st.bind(":id", g.id);
    st.bind(":directory_id", g.directory_id);
    bind_opt(st, ":organization_id", g.organization_id);
    bind_opt(st, ":idp_id", g.idp_id);
    st.bind(":name", g.name);
    bind_opt(st, ":raw_attributes", g.raw_attributes);
    st.bind(":created_at", g.created_at.text);
    st.bind(":updated_at", g.updated_at.text);
    st.bind(":raw_json", g.raw_json);
    st.bind(":updated_at_us", g.updated_at.micros);
}

void clear_staging(SQLite::Database& db, std::string const& directory_id)
{
    for (char const* table :
         {"staged_memberships", "staged_users", "staged_groups", "staging_runs"}) {
        SQLite::Statement del(db, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table));
        del.bind(":dir", directory_id);
        del.exec();
    }
}

bool delete_directory_rows(SQLite::Database& db, std::string const& directory_id,
                           std::string const& now)
{
    SQLite::Statement probe(db, "SELECT 1 FROM directories WHERE id = :dir");
    probe.bind(":dir", directory_id);
    bool const mirrored = probe.executeStep();
    probe.reset();

    auto const record = [&](char const* statement) { run(db, statement, directory_id, now); };
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
        run(db, fmt::format("DELETE FROM {} WHERE directory_id = :dir", table), directory_id, now);
    run(db, "DELETE FROM directories WHERE id = :dir", directory_id, now);
    clear_staging(db, directory_id);
    return mirrored;
}

} // namespace dirsync::store::sql
