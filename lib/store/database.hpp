// Opening the mirror: file permissions, WAL, busy timeout, schema migrations.
#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace SQLite {
class Exception;
} // namespace SQLite

namespace dirsync::store {

// A database problem that the operator must fix (not SQLite's own exceptions, which pass through).
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Called once per wait, when a write has waited about a second for a lock another process holds
// (an app writing by mistake, a backup); the daemon logs it.
using LockWaitReporter =
    std::function<void(std::chrono::milliseconds waited, std::chrono::milliseconds timeout)>;

struct DatabaseOptions {
    // How long a write waits for a lock another process holds before it fails with SQLITE_BUSY.
    std::chrono::milliseconds busy_timeout{std::chrono::seconds(10)};
    // A cap on the database's size (SQLite's max_page_count): beyond it writes fail with
    // SQLITE_FULL, exactly as on a full disk. nullopt: no cap.
    std::optional<std::int64_t> max_bytes;
    LockWaitReporter on_lock_wait{};
};

class Checkpointer;

// A connection to the mirror with its busy handler, whose state (the timeout, the reporter, the
// wait under way) lives exactly as long as the connection.
class Database final : public SQLite::Database {
public:
    Database(std::string const& path, int flags, std::chrono::milliseconds busy_timeout,
             LockWaitReporter on_lock_wait);
    ~Database();

    // What opening it did that the operator should hear of (the daemon logs them).
    std::vector<std::string> notes;
    // The schema version an existing file had, when opening it migrated it to the latest.
    std::optional<int> migrated_from;

    struct LockWait {
        std::chrono::milliseconds timeout;
        LockWaitReporter report;
        std::chrono::steady_clock::time_point started{};
        bool reported = false;
    };

    // Moves WAL checkpoints to a thread of their own (checkpointer.hpp); file databases only.
    void checkpoint_in_background(std::string const& path);
    // How many checkpoints that thread has run.
    int background_checkpoints() const;

private:
    LockWait lock_wait_;
    std::unique_ptr<Checkpointer> checkpointer_; // goes before the connection closes
};

// Creates the database file (empty, mode 0640 whatever the umask) when it does not exist yet, so
// that it can be locked before it is opened. Throws StoreError naming the path.
void create_database_file(std::string const& path);

// Keeps the connection's -wal and -shm files after it closes, so that readers without write
// access can always open the mirror; give_wal_files_the_database_mode makes them readable by the
// database file's group (mode and group of the database file, whatever the umask).
void keep_wal_files(SQLite::Database& db);
void give_wal_files_the_database_mode(std::string const& path);

// Opens (creating when absent, mode 0640 whatever the umask) the database at `path`, or an
// in-memory one for ":memory:". Sets WAL mode and the busy timeout, applies the embedded
// schema/NNN_*.sql migrations that the file has not seen (PRAGMA user_version), and attaches the
// staging file (staging_file.hpp). Throws StoreError
// for a file that is not SQLite, a SQLite database of another application, a schema newer than
// this build, or a path that cannot be opened for writing.
std::unique_ptr<Database> open_database(std::string const& path,
                                        DatabaseOptions const& options = {});

// Sets (or, with nullopt, lifts) the size cap of an open database; SIGHUP applies a new one.
void limit_database_size(SQLite::Database& db, std::optional<std::int64_t> max_bytes);

// A SQLite failure in words an operator can act on: the message plus what it means here (a full
// disk or the size cap, a lock held past the busy timeout, a read-only or damaged file).
std::string describe_database_error(SQLite::Exception const& e);

// Returns free pages to the file system (incremental vacuum) when they are more than a twentieth
// of the mirror, and in the staging file once no run is left in it: after a merge or a prune, so
// that the files keep no more than they hold.
void reclaim_free_pages(SQLite::Database& db);

// The schema version this build writes (the number of the last migration).
int latest_schema_version();

} // namespace dirsync::store
