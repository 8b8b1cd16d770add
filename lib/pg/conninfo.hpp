// Telling a PostgreSQL connection string from a file path, and saying it without its secrets.
// libpq is the judge of both forms it accepts: a URL (postgresql://, postgres://) and the
// key=value conninfo ("host=db1 dbname=dirsync").
#pragma once

#include <map>
#include <optional>
#include <string>

namespace dirsync::pg {

// True when `target` (the config's `database`, or --db) names a PostgreSQL database rather than
// an SQLite file: a postgresql:// or postgres:// URL, or a conninfo string libpq can parse.
bool is_postgres_target(std::string const& target);

// The connection string as it may appear in a log line or an error: the password (the URL's
// user:password@ or a password=... key) replaced by "***". Anything libpq cannot parse is given
// as "(a connection string libpq cannot parse)", since its secrets cannot be found in it.
std::string redacted(std::string const& target);

// The password file a systemd credential gives (LoadCredential=pgpass:/etc/dirsyncd/pgpass, in
// libpq's ~/.pgpass format), when the environment names no PGPASSFILE of its own and the
// credential is there: $CREDENTIALS_DIRECTORY/pgpass. The caller sets PGPASSFILE to it.
std::optional<std::string>
password_file_from_credentials(std::map<std::string, std::string> const& environment);

} // namespace dirsync::pg
