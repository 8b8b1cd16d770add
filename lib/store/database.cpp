#include "store/database.hpp"

#include "schema_migrations.hpp" // generated from schema/*.sql

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::store {
namespace {

constexpr mode_t database_mode = 0640; // owner writes, the readers' group reads

// Creates the file with our mode before SQLite does, so the umask cannot widen or narrow it;
// SQLite gives the -wal and -shm files the mode of the database file.
void create_with_mode(std::string const& path)
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

int user_version(SQLite::Database& db)
{
    return db.execAndGet("PRAGMA user_version").getInt();
}

} // namespace

int latest_schema_version()
{
    return static_cast<int>(std::size(schema::migrations));
}

std::unique_ptr<SQLite::Database> open_database(std::string const& path,
                                                DatabaseOptions const& options)
{
    bool const in_memory = path == ":memory:";
    if (!in_memory)
        create_with_mode(path);

    std::unique_ptr<SQLite::Database> db;
    try {
        db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    } catch (SQLite::Exception const& e) {
        throw StoreError(fmt::format("cannot open database {}: {}", path, e.what()));
    }
    db->setBusyTimeout(static_cast<int>(options.busy_timeout.count()));
    if (!in_memory && sqlite3_db_readonly(db->getHandle(), "main") == 1)
        throw StoreError(fmt::format("database {} is not writable by this user", path));

    int version = 0;
    try {
        version = user_version(*db);
        if (!in_memory)
            db->exec("PRAGMA journal_mode = WAL");
    } catch (SQLite::Exception const& e) {
        if (e.getErrorCode() == SQLITE_NOTADB)
            throw StoreError(fmt::format("{} is not a SQLite database", path));
        throw StoreError(fmt::format("cannot read database {}: {}", path, e.what()));
    }
    db->exec("PRAGMA synchronous = NORMAL"); // WAL + NORMAL: consistent after a crash
    db->exec("PRAGMA foreign_keys = OFF");

    int const latest = latest_schema_version();
    if (version > latest)
        throw StoreError(fmt::format(
            "database {} has schema version {}, newer than this dirsyncd supports ({}); "
            "run a newer dirsyncd or point --db at another file",
            path, version, latest));
    if (version < latest) {
        try {
            SQLite::Transaction tx(*db);
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
    }
    return db;
}

} // namespace dirsync::store
