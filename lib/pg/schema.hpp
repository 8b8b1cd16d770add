// The mirror's tables in PostgreSQL: one schema (config `database_schema`) holding the contract
// tables of schema/postgres/NNN_*.sql, at the same version numbers as the SQLite mirror's.
#pragma once

#include "pg/connection.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace dirsync::pg {

// A schema dirsyncd must not touch: newer than this build, or another application's.
class SchemaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Migration {
    std::optional<int> from; // the version found; nullopt: the schema was created now
    int to = 0;
    bool changed() const { return !from || *from != to; }
};

// Creates `schema` when absent and applies the migrations it has not seen, in one transaction
// under an advisory lock, so that dirsyncd on several hosts starting at once migrate it once.
// Sets the session's search_path to the schema. Throws SchemaError for a schema that holds
// tables but no dirsyncd version, or a version newer than this build; Error when the server
// refuses (say, no CREATE privilege on the database).
Migration migrate_schema(Connection& db, std::string const& schema);

// Points the session's unqualified names at `schema` (search_path).
void use_schema(Connection& db, std::string const& schema);

// The version this build writes: the same number as the SQLite mirror's.
int latest_schema_version();

} // namespace dirsync::pg
