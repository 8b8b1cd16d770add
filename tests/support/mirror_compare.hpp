// Compares a mirror with the fake's dataset; returns the differences (empty when equal).
#pragma once

#include "dataset.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace test {

// The mirror's rows, one "|"-joined string per row: what the comparison compares.
struct MirrorRows {
    std::set<std::string> directories, users, groups, memberships;
};

// The rows the fake's dataset should be mirrored as.
inline MirrorRows expected_rows(fake::Dataset const& ds)
{
    MirrorRows r;
    for (auto const& [id, d] : ds.directories())
        r.directories.insert(id + "|" + d.name + "|" + d.state);
    for (auto const& [id, u] : ds.users())
        r.users.insert(id + "|" + u.directory_id + "|" + u.email.value_or("") + "|" + u.first_name +
                       "|" + u.last_name + "|" + u.state + "|" + u.role + "|" + u.updated_at);
    for (auto const& [id, g] : ds.groups())
        r.groups.insert(id + "|" + g.directory_id + "|" + g.name + "|" + g.updated_at);
    for (auto const& [u, g] : ds.memberships())
        r.memberships.insert(u + "|" + g + "|" + ds.users().at(u).directory_id);
    return r;
}

// The SELECTs of those rows, whichever database: `updated_at` is the expression that gives the
// column as the API writes it (SQLite stores that text; PostgreSQL a timestamptz).
struct MirrorRowsSql {
    std::string directories, users, groups, memberships;
};
inline MirrorRowsSql mirror_rows_sql(std::string const& updated_at)
{
    return {"SELECT id || '|' || name || '|' || state FROM directories",
            "SELECT id || '|' || directory_id || '|' || COALESCE(email, '') || '|' || "
            "first_name || '|' || last_name || '|' || state || '|' || role || '|' || " +
                updated_at + " FROM users",
            "SELECT id || '|' || directory_id || '|' || name || '|' || " + updated_at +
                " FROM groups",
            "SELECT user_id || '|' || group_id || '|' || directory_id FROM memberships"};
}

inline std::vector<std::string> row_differences(MirrorRows const& expected,
                                                MirrorRows const& actual)
{
    std::vector<std::string> diffs;
    auto compare = [&](std::string const& what, std::set<std::string> const& want,
                       std::set<std::string> const& have) {
        for (auto const& e : want)
            if (!have.count(e))
                diffs.push_back(what + " missing: " + e);
        for (auto const& a : have)
            if (!want.count(a))
                diffs.push_back(what + " unexpected: " + a);
    };
    compare("directory", expected.directories, actual.directories);
    compare("user", expected.users, actual.users);
    compare("group", expected.groups, actual.groups);
    compare("membership", expected.memberships, actual.memberships);
    return diffs;
}

// Compares the SQLite mirror with the fake's dataset; returns the differences (empty when equal).
inline std::vector<std::string> mirror_differences(SQLite::Database& db, fake::Dataset const& ds)
{
    auto rows = [&db](std::string const& sql) {
        std::set<std::string> out;
        SQLite::Statement q(db, sql);
        while (q.executeStep())
            out.insert(q.getColumn(0).getString());
        return out;
    };
    auto const sql = mirror_rows_sql("updated_at");
    return row_differences(expected_rows(ds), {rows(sql.directories), rows(sql.users),
                                               rows(sql.groups), rows(sql.memberships)});
}

// Memberships whose user or group is missing: must always be zero.
inline int dangling_memberships(SQLite::Database& db)
{
    return db
        .execAndGet("SELECT COUNT(*) FROM memberships m WHERE NOT EXISTS (SELECT 1 FROM users u "
                    "WHERE u.id = m.user_id) OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = "
                    "m.group_id)")
        .getInt();
}

} // namespace test
