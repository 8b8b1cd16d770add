#include "store/database.hpp"

#include "schema_migrations.hpp" // generated from schema/*.sql
#include "store/checkpointer.hpp"
#include "store/staging_file.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::store {
namespace {

constexpr mode_t database_mode = 0640; // owner writes, the readers' group reads

} // namespace

// Creates the file with our mode before SQLite does, so the umask cannot widen or narrow it;
// SQLite gives the -wal and -shm files the mode of the database file.
void create_database_file(std::string const& path)
{
    int const fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, database_mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return;
        throw StoreError(fmt::format("cannot create database {}: {}", path, std::strerror(errno)));
    }
    ::fchmod(fd, database_mode);
    ::close(fd);
}

// The WAL files stay when the last connection closes (SQLITE_FCNTL_PERSIST_WAL), with the
// database file's mode and group: a reader that may not write the directory cannot create them,
// and without them it could not open the mirror while no daemon runs.
void keep_wal_files(SQLite::Database& db)
{
    int persist = 1;
    sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

void give_wal_files_the_database_mode(std::string const& path)
{
    // By path, never through a descriptor of our own: closing any descriptor of a file drops
    // every POSIX lock this process holds on it, SQLite's on the -shm included (another
    // connection would then reset the -shm under our mapping).
    struct stat database {};
    if (::stat(path.c_str(), &database) != 0)
        throw StoreError(fmt::format("cannot stat database {}: {}", path, std::strerror(errno)));
    mode_t const mode = database.st_mode & 0666;
    for (char const* suffix : {"-wal", "-shm"}) {
        auto const file = path + suffix;
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0)
            continue; // made later by SQLite, with the database file's mode
        bool ok = (st.st_mode & 0777) == mode || ::chmod(file.c_str(), mode) == 0;
        if (ok && st.st_gid != database.st_gid)
            ok = ::chown(file.c_str(), static_cast<uid_t>(-1), database.st_gid) == 0;
        if (!ok)
            throw StoreError(fmt::format("cannot give {} the mode {:o} and the group {} of the "
                                         "database (readers need them): {}",
                                         file, mode, database.st_gid, std::strerror(errno)));
    }
}

namespace {

int user_version(SQLite::Database& db)
{
    return db.execAndGet("PRAGMA user_version").getInt();
}

// SQLite's busy handler: sleeps and retries like sqlite3_busy_timeout, and tells the reporter
// once per wait that we are waiting. A wait is one sequence of calls from count 0.
int wait_for_lock(void* context, int count)
{
    auto& wait = *static_cast<Database::LockWait*>(context);
    auto const now = std::chrono::steady_clock::now();
    if (count == 0) {
        wait.started = now;
        wait.reported = false;
    }
    auto const waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - wait.started);
    if (waited >= wait.timeout)
        return 0; // give up: the statement fails with SQLITE_BUSY
    if (!wait.reported && waited >= std::chrono::seconds(1)) {
        wait.reported = true;
        if (wait.report)
            wait.report(waited, wait.timeout);
    }
    auto const step = std::chrono::milliseconds(count < 5 ? 1 << count : 50);
    std::this_thread::sleep_for(std::min(step, wait.timeout - waited));
    return 1;
}

// A SQLite file that another application made: it has tables, but no schema version of ours.
bool has_foreign_tables(SQLite::Database& db)
{
    return db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").getInt() > 0;
}

// A mirror written before schema 4 kept its staging tables inside: what they used is free pages
// now. Rebuild the file once with incremental auto-vacuum, so that it shrinks and later frees
// can be returned. Best effort: a disk too full to rebuild it leaves the file as it is.
void compact_once(Database& db, std::string const& path)
{
    try {
        db.exec("PRAGMA auto_vacuum = INCREMENTAL");
        db.exec("VACUUM");
    } catch (SQLite::Exception const& e) {
        db.notes.push_back(fmt::format("database {} could not be compacted after the upgrade to "
                                       "schema 4 ({}); it keeps its free pages",
                                       path, e.what()));
        return;
    }
    db.notes.push_back(
        fmt::format("database {} compacted once after the upgrade to schema 4", path));
}

} // namespace

void limit_database_size(SQLite::Database& db, std::optional<std::int64_t> max_bytes)
{
    // Above SQLite's own maximum the value is clamped to it: that is "no cap".
    std::int64_t pages = 4294967294;
    if (max_bytes) {
        auto const page_size = db.execAndGet("PRAGMA page_size").getInt64();
        pages = std::max<std::int64_t>(1, *max_bytes / page_size);
    }
    db.exec(fmt::format("PRAGMA max_page_count = {}", pages));
}

Database::Database(std::string const& path, int flags, std::chrono::milliseconds busy_timeout,
                   LockWaitReporter on_lock_wait)
    : SQLite::Database(path, flags)
    , lock_wait_{std::max(busy_timeout, std::chrono::milliseconds(0)), std::move(on_lock_wait)}
{
    sqlite3_busy_handler(getHandle(), wait_for_lock, &lock_wait_);
}

void Database::checkpoint_in_background(std::string const& path)
{
    checkpointer_ = std::make_unique<Checkpointer>(*this, path, 1000); // SQLite's default
}

int Database::background_checkpoints() const
{
    return checkpointer_ ? checkpointer_->runs() : 0;
}

Database::~Database()
{
    checkpointer_.reset();
    // The handler's state goes before the connection closes: unhook it first.
    sqlite3_busy_handler(getHandle(), nullptr, nullptr);
}

std::string describe_database_error(SQLite::Exception const& e)
{
    char const* meaning = nullptr;
    switch (e.getErrorCode()) {
    case SQLITE_FULL:
        meaning = "the disk holding the database is full, or max_database_bytes is reached; the "
                  "step was rolled back and the mirror keeps its last consistent state";
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        meaning = "another process held a lock on the database for longer than "
                  "busy_timeout_seconds (apps must only read it); the step was rolled back and "
                  "is retried";
        break;
    case SQLITE_READONLY:
        meaning = "the database file or its directory is not writable by this user";
        break;
    case SQLITE_IOERR:
        meaning = "the disk reported an I/O error";
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        meaning = "the database file is damaged or was replaced; restore it or remove it for a "
                  "full resync";
        break;
    default:
        break;
    }
    return meaning ? fmt::format("{} ({})", e.what(), meaning) : std::string(e.what());
}

namespace {

// Outside a transaction, and no statement of the connection is part-way through its rows.
bool idle(SQLite::Database& db)
{
    if (sqlite3_get_autocommit(db.getHandle()) == 0)
        return false;
    for (sqlite3_stmt* st = sqlite3_next_stmt(db.getHandle(), nullptr); st != nullptr;
         st = sqlite3_next_stmt(db.getHandle(), st))
        if (sqlite3_stmt_busy(st) != 0)
            return false;
    return true;
}

} // namespace

void reclaim_free_pages(SQLite::Database& db)
{
    auto const pages = db.execAndGet("PRAGMA page_count").getInt64();
    auto const free_pages = db.execAndGet("PRAGMA freelist_count").getInt64();
    if (free_pages * 20 > pages)
        db.exec("PRAGMA incremental_vacuum");
    // The staging file is given back once no run is left in it: until then the next
    // directory's pages reuse what the last one freed. Empty, it is rewritten in a few pages
    // (an incremental vacuum of it wrote every page it moved, and kept a pointer map while
    // staging). VACUUM needs the connection idle: with a statement of the caller's still open,
    // it waits for the next call.
    // (Each execAndGet's statement stays open until the end of its full expression.)
    bool const no_run = db.execAndGet("SELECT NOT EXISTS (SELECT 1 FROM staging.runs)").getInt();
    bool const has_free = db.execAndGet("PRAGMA staging.freelist_count").getInt64() > 0;
    if (no_run && has_free && idle(db))
        db.exec("VACUUM staging");
}

int latest_schema_version()
{
    return static_cast<int>(std::size(schema::migrations));
}

std::unique_ptr<Database> open_database(std::string const& path, DatabaseOptions const& options)
{
    bool const in_memory = path == ":memory:";
    if (!in_memory)
        create_database_file(path);

    std::unique_ptr<Database> db;
    try {
        db = std::make_unique<Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                        options.busy_timeout, options.on_lock_wait);
    } catch (SQLite::Exception const& e) {
        throw StoreError(fmt::format("cannot open database {}: {}", path, e.what()));
    }
    if (!in_memory && sqlite3_db_readonly(db->getHandle(), "main") == 1)
        throw StoreError(fmt::format("database {} is not writable by this user", path));

    // Read-only checks first: a file we refuse is left exactly as it was (not even switched
    // to WAL).
    int version = 0;
    bool foreign = false;
    try {
        version = user_version(*db);
        foreign = version == 0 && has_foreign_tables(*db);
    } catch (SQLite::Exception const& e) {
        if (e.getErrorCode() == SQLITE_NOTADB)
            throw StoreError(fmt::format("{} is not a SQLite database", path));
        throw StoreError(fmt::format("cannot read database {}: {}", path, e.what()));
    }
    if (foreign)
        throw StoreError(fmt::format("{} is a SQLite database of another application (it has "
                                     "tables but no dirsyncd schema version); left untouched, "
                                     "point --db at another file",
                                     path));
    int const latest = latest_schema_version();
    if (version > latest)
        throw StoreError(fmt::format(
            "database {} has schema version {}, newer than this dirsyncd supports ({}); "
            "run a newer dirsyncd or point --db at another file",
            path, version, latest));

    // A new file's layout, set before its first page is written: free pages that can be
    // returned to the file system. SQLite's 4 KiB pages: larger ones pack a user row of about
    // 1 KiB a little tighter (6 %), but every page an event touches is written, checksummed and
    // copied whole, and an event stream then runs at two thirds of the speed.
    if (version == 0 && !in_memory)
        db->exec("PRAGMA auto_vacuum = INCREMENTAL");
    try {
        if (!in_memory) {
            keep_wal_files(*db);
            db->exec("PRAGMA journal_mode = WAL");
        }
    } catch (SQLite::Exception const& e) {
        throw StoreError(fmt::format("cannot switch database {} to WAL: {}", path, e.what()));
    }
    db->exec("PRAGMA synchronous = NORMAL"); // WAL + NORMAL: consistent after a crash
    // Debian builds SQLite with SECURE_DELETE on: every page a delete frees is zeroed and written
    // once more. FAST still zeroes a deleted row inside its page (written anyway), without
    // writing freed pages again (a deleted row's overflow pages keep their bytes until reused
    // or vacuumed away).
    db->exec("PRAGMA secure_delete = FAST");
    // The WAL file is cut back to this size when a checkpoint resets it, and to nothing when the
    // daemon closes the database (it stays, empty, for the readers): a bounded file for
    // replication tools to ship.
    db->exec("PRAGMA journal_size_limit = 67108864");
    db->exec("PRAGMA foreign_keys = OFF");
    // Temporary b-trees and statement journals (the merge's IN lists, sorts, undo copies) spill
    // to temporary files (private under systemd's PrivateTmp=) past the temp cache: in memory
    // they grew with the largest directory, to a peak RSS of 78 MiB at a million users (39 MiB
    // this way), for about 15 % more CPU in a first sync.
    db->exec("PRAGMA temp_store = FILE");
    db->exec("PRAGMA cache_size = -8192"); // 8 MiB: a merge's working set without spilling
    limit_database_size(*db, options.max_bytes);

    if (version < latest) {
        try {
            SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
            for (int v = version + 1; v <= latest; ++v) {
                db->exec(schema::migrations[v - 1]);
                db->exec(fmt::format("PRAGMA user_version = {}", v));
            }
            tx.commit();
        } catch (SQLite::Exception const& e) {
            throw StoreError(
                fmt::format("cannot migrate database {} from schema version {} to {}: {}", path,
                            version, latest, e.what()));
        }
        if (version > 0)
            db->migrated_from = version;
        if (version > 0 && !in_memory && db->execAndGet("PRAGMA auto_vacuum").getInt() == 0)
            compact_once(*db, path);
    }
    attach_staging(*db, path);
    if (!in_memory) {
        give_wal_files_the_database_mode(path); // they exist now: the file was read or written
        db->checkpoint_in_background(path);
    }
    return db;
}

} // namespace dirsync::store
