// The PostgreSQL mirror's user and group tables and their staging twins
// (schema/postgres/006_baseline.sql), as lists the SQL of the event applier and of the merge is
// generated from (identifiers only; every value is a parameter). Internal to lib/pg.
#pragma once

#include <string>
#include <vector>

namespace dirsync::pg {

struct Column {
    char const* name;
    char const* type; // the parameter's cast
};

struct EntityTable {
    char const* live;
    char const* staged;
    char const* entity;        // changes.entity, tombstones.entity, resync_touched.entity
    char const* member_column; // the memberships column that points at it
    // The columns written, in the order of their parameters, id first and updated_at_us last
    // (custom_attributes and raw_attributes are computed from raw_json).
    std::vector<Column> columns;
};
extern EntityTable const users_table;
extern EntityTable const groups_table;

// "a, b, c", each name prefixed ("" or "s.").
std::string column_names(EntityTable const& t, char const* prefix = "");
// "a = excluded.a, ..." for every column but id: the SET of an upsert.
std::string set_from_excluded(EntityTable const& t);

} // namespace dirsync::pg
