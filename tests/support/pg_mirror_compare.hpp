// The PostgreSQL form of mirror_compare.hpp's mirror_differences: what the mirror in the
// session's schema (search_path) lacks or has too much, compared with the fake's dataset.
#pragma once

#include "pg/connection.hpp"
#include "pg/mirror_rows.hpp"
#include "support/mirror_compare.hpp"

namespace test {

inline std::vector<std::string> pg_mirror_differences(dirsync::pg::Connection& db,
                                                      fake::Dataset const& ds)
{
    auto rows = [&db](std::string const& sql) {
        std::set<std::string> out;
        auto const r = db.exec(sql);
        for (int i = 0; i < r.rows(); ++i)
            out.insert(r.text(i, 0));
        return out;
    };
    auto const sql = mirror_rows_sql(dirsync::pg::iso_text("updated_at"));
    return row_differences(expected_rows(ds), {rows(sql.directories), rows(sql.users),
                                               rows(sql.groups), rows(sql.memberships)});
}

} // namespace test
