// Opening the mirror: file permissions, WAL, busy timeout, schema migrations.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace SQLite {
class Database;
}

namespace dirsync::store {

// A database problem that the operator must fix (not SQLite's own exceptions, which pass through).
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct DatabaseOptions {
    std::chrono::milliseconds busy_timeout{std::chrono::seconds(10)};
};

// Opens (creating when absent, mode 0640 whatever the umask) the database at `path`, or an
// in-memory one for ":memory:". Sets WAL mode and the busy timeout, and applies the embedded
// schema/NNN_*.sql migrations that the file has not seen (PRAGMA user_version). Throws StoreError
// for a file that is not SQLite, a schema newer than this build, or a path that cannot be
// opened for writing.
std::unique_ptr<SQLite::Database> open_database(std::string const& path,
                                                DatabaseOptions const& options = {});

// The schema version this build writes (the number of the last migration).
int latest_schema_version();

} // namespace dirsync::store
