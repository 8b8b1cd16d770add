#include "pg/entity_tables.hpp"

#include <fmt/format.h>

#include <string_view>

namespace dirsync::pg {

EntityTable const users_table{"users",
                              "staged_users",
                              "user",
                              "user_id",
                              {{"id", "text"},
                               {"directory_id", "text"},
                               {"organization_id", "text"},
                               {"idp_id", "text"},
                               {"email", "text"},
                               {"first_name", "text"},
                               {"last_name", "text"},
                               {"state", "text"},
                               {"role", "text"},
                               {"created_at", "timestamptz"},
                               {"updated_at", "timestamptz"},
                               {"raw_json", "jsonb"},
                               {"updated_at_us", "bigint"}}};

EntityTable const groups_table{"groups",
                               "staged_groups",
                               "group",
                               "group_id",
                               {{"id", "text"},
                                {"directory_id", "text"},
                                {"organization_id", "text"},
                                {"idp_id", "text"},
                                {"name", "text"},
                                {"created_at", "timestamptz"},
                                {"updated_at", "timestamptz"},
                                {"raw_json", "jsonb"},
                                {"updated_at_us", "bigint"}}};

std::string column_names(EntityTable const& t, char const* prefix)
{
    std::string out;
    for (auto const& c : t.columns)
        out += fmt::format("{}{}{}", out.empty() ? "" : ", ", prefix, c.name);
    return out;
}

std::string set_from_excluded(EntityTable const& t)
{
    std::string set;
    for (auto const& c : t.columns)
        if (std::string_view(c.name) != "id")
            set += fmt::format("{0}{1} = excluded.{1}", set.empty() ? "" : ", ", c.name);
    return set;
}

} // namespace dirsync::pg
