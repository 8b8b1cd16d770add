// Compares the SQLite mirror with the fake's dataset; returns the differences (empty when equal).
#pragma once

#include "dataset.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace test {

inline std::vector<std::string> mirror_differences(SQLite::Database& db, fake::Dataset const& ds)
{
    std::vector<std::string> diffs;
    auto compare = [&](std::string const& what, std::set<std::string> const& expected,
                       std::string const& sql) {
        std::set<std::string> actual;
        SQLite::Statement q(db, sql);
        while (q.executeStep())
            actual.insert(q.getColumn(0).getString());
        for (auto const& e : expected)
            if (!actual.count(e))
                diffs.push_back(what + " missing: " + e);
        for (auto const& a : actual)
            if (!expected.count(a))
                diffs.push_back(what + " unexpected: " + a);
    };
    std::set<std::string> dirs, users, groups, members;
    for (auto const& [id, d] : ds.directories())
        dirs.insert(id + "|" + d.name + "|" + d.state);
    for (auto const& [id, u] : ds.users())
        users.insert(id + "|" + u.directory_id + "|" + u.email.value_or("") + "|" + u.first_name +
                     "|" + u.last_name + "|" + u.state + "|" + u.role + "|" + u.updated_at);
    for (auto const& [id, g] : ds.groups())
        groups.insert(id + "|" + g.directory_id + "|" + g.name + "|" + g.updated_at);
    for (auto const& [u, g] : ds.memberships())
        members.insert(u + "|" + g + "|" + ds.users().at(u).directory_id);
    compare("directory", dirs, "SELECT id || '|' || name || '|' || state FROM directories");
    compare("user", users,
            "SELECT id || '|' || directory_id || '|' || COALESCE(email, '') || '|' || "
            "first_name || '|' || last_name || '|' || state || '|' || role || '|' || updated_at "
            "FROM users");
    compare("group", groups,
            "SELECT id || '|' || directory_id || '|' || name || '|' || updated_at FROM groups");
    compare("membership", members,
            "SELECT user_id || '|' || group_id || '|' || directory_id FROM memberships");
    return diffs;
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
