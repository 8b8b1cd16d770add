#include "pg/schema.hpp"

#include "schema_pg_migrations.hpp"

#include <fmt/format.h>

#include <iterator>

namespace dirsync::pg {

int latest_schema_version()
{
    return schema::first_version + static_cast<int>(std::size(schema::migrations)) - 1;
}

void use_schema(Connection& db, std::string const& schema)
{
    db.exec("SET search_path TO " + db.quote_identifier(schema));
}

Migration migrate_schema(Connection& db, std::string const& schema)
{
    auto const quoted = db.quote_identifier(schema);
    db.exec("BEGIN");
    try {
        // Held to COMMIT: a second dirsyncd waits here and then finds the schema migrated.
        db.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                {"dirsyncd migrate:" + schema});
        db.exec("CREATE SCHEMA IF NOT EXISTS " + quoted);
        db.exec("SET LOCAL search_path TO " + quoted);
        auto const tables =
            db.exec("SELECT count(*) FROM pg_tables WHERE schemaname = $1", {schema}).integer(0, 0);
        auto const versioned = db.exec("SELECT 1 FROM pg_tables WHERE schemaname = $1 AND "
                                       "tablename = 'schema_version'",
                                       {schema})
                                   .rows() == 1;
        Migration m;
        int version = schema::first_version - 1;
        if (versioned) {
            auto const r = db.exec("SELECT version FROM schema_version");
            if (r.rows() != 1)
                throw SchemaError(fmt::format("schema {}: its schema_version table has {} rows, "
                                              "not one: it is not a dirsyncd mirror as this build "
                                              "knows it",
                                              schema, r.rows()));
            version = static_cast<int>(r.integer(0, 0));
            m.from = version;
        } else if (tables > 0) {
            throw SchemaError(fmt::format("schema {} holds {} tables of another application (no "
                                          "dirsyncd schema_version table); give dirsyncd a "
                                          "schema of its own (database_schema)",
                                          schema, tables));
        }
        if (version > latest_schema_version())
            throw SchemaError(fmt::format("schema {} is at version {}, newer than this dirsyncd "
                                          "(which knows up to {}): upgrade dirsyncd",
                                          schema, version, latest_schema_version()));
        if (!versioned)
            db.exec("CREATE TABLE schema_version (version integer NOT NULL)");
        for (int v = version + 1; v <= latest_schema_version(); ++v)
            db.exec(schema::migrations[v - schema::first_version]);
        if (!versioned)
            db.exec("INSERT INTO schema_version (version) VALUES ($1)",
                    {std::to_string(latest_schema_version())});
        else
            db.exec("UPDATE schema_version SET version = $1",
                    {std::to_string(latest_schema_version())});
        db.exec("COMMIT");
        m.to = latest_schema_version();
        use_schema(db, schema);
        return m;
    } catch (...) {
        try {
            if (db.alive())
                db.exec("ROLLBACK");
        } catch (Error const&) {
            // The first error is the one to report; the session ends the transaction anyway.
        }
        throw;
    }
}

} // namespace dirsync::pg
