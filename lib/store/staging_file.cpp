#include "store/staging_file.hpp"

#include "store/database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::store {
namespace {

// Bump when the tables below change: an older staging file is then recreated (it holds only
// resumable progress, never the mirror's data).
// 2: no auto_vacuum (its pointer-map pages were one more page written per staged page; the
// emptied file is given back with VACUUM instead), 2 KiB pages.
constexpr int staging_layout = 2;

// Key columns first in WITHOUT ROWID tables: SQLite 3.40's integrity_check misreports NOT NULL
// columns declared before the key as NULL.

constexpr char const* staging_tables = R"sql(
-- One full sync in progress per directory; run_id matches the mirror's full_sync_runs row.
CREATE TABLE IF NOT EXISTS staging.runs (
    directory_id  TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    started_at_us INTEGER NOT NULL,
    phase         TEXT NOT NULL,  -- groups, users, memberships, done
    cursor        TEXT,           -- `after` of the next page of the groups or users listing
    high_id       TEXT,           -- the largest id that listing has compared with the mirror
    strategy      TEXT,           -- membership strategy, once chosen
    listed_groups INTEGER NOT NULL DEFAULT 0,
    listed_users  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- New or changed objects, as they will be written to the mirror.
CREATE TABLE IF NOT EXISTS staging.staged_users (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL,
    organization_id TEXT,
    idp_id          TEXT,
    email           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    state           TEXT NOT NULL,
    role            TEXT,
    raw_json        TEXT NOT NULL,
    updated_at_us   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS staging.staged_users_by_directory ON staged_users (directory_id);
CREATE TABLE IF NOT EXISTS staging.staged_groups (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL,
    organization_id TEXT,
    idp_id          TEXT,
    name            TEXT NOT NULL,
    raw_json        TEXT NOT NULL,
    updated_at_us   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS staging.staged_groups_by_directory ON staged_groups (directory_id);
-- Mirrored users and groups the listing has passed over: gone upstream, deleted by the merge.
CREATE TABLE IF NOT EXISTS staging.pending_deletes (
    entity       TEXT NOT NULL,  -- user, group
    id           TEXT NOT NULL,
    directory_id TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS staging.pending_deletes_by_directory ON pending_deletes (directory_id);
-- The groups (per_group) or users (per_user) whose memberships are listed, each with its own
-- position, so that several are listed at once and each resumes where it stopped.
CREATE TABLE IF NOT EXISTS staging.owners (
    directory_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    cursor       TEXT,
    high_id      TEXT,
    done         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (directory_id, id)
) WITHOUT ROWID;
-- Memberships the listing found added or removed, compared with the mirror.
-- Keyed in the order pages arrive (a group's members, in id order), so that a page writes a few
-- neighbouring rows rather than one page of the file per member.
CREATE TABLE IF NOT EXISTS staging.membership_diff (
    directory_id TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    op           TEXT NOT NULL CHECK (op IN ('add', 'delete')),
    PRIMARY KEY (directory_id, group_id, user_id)
) WITHOUT ROWID;
)sql";

void create_private(std::string const& path)
{
    int const fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return;
        throw StoreError(
            fmt::format("cannot create the staging file {}: {}", path, std::strerror(errno)));
    }
    ::fchmod(fd, 0600);
    ::close(fd);
}

void attach(SQLite::Database& db, std::string const& path)
{
    SQLite::Statement attach(db, "ATTACH DATABASE :path AS staging");
    attach.bind(":path", path);
    attach.exec();
}

} // namespace

std::string staging_path(std::string const& mirror_path)
{
    return mirror_path == ":memory:" ? mirror_path : mirror_path + ".staging";
}

void attach_staging(SQLite::Database& db, std::string const& mirror_path)
{
    auto const path = staging_path(mirror_path);
    bool const in_memory = path == ":memory:";
    try {
        if (!in_memory)
            create_private(path);
        attach(db, path);
        int const layout = db.execAndGet("PRAGMA staging.user_version").getInt();
        bool const has_tables =
            db.execAndGet("SELECT COUNT(*) FROM staging.sqlite_master").getInt() > 0;
        if (has_tables && layout != staging_layout) {
            // another layout (an older or newer dirsyncd): start it over, it only held progress
            db.exec("DETACH DATABASE staging");
            for (char const* suffix : {"", "-wal", "-shm"})
                ::unlink((path + suffix).c_str());
            create_private(path);
            attach(db, path);
        }
        if (!in_memory) {
            // Every listing page is a transaction that writes each page of the file it touched:
            // a page of 100 memberships adds about 11 KB of rows but touches some ten pages
            // (neighbouring leaves, their parent, its owner's position, the header). 2 KiB pages
            // halve those writes (a first sync's staging WAL 57 -> 47 MiB at 10,000 users) at
            // no measurable CPU; a staged user row (about 1 KB) still fits in a page. Takes
            // effect on a new file.
            db.exec("PRAGMA staging.page_size = 2048");
            db.exec("PRAGMA staging.journal_mode = WAL");
            db.exec("PRAGMA staging.synchronous = NORMAL");
        }
        db.exec("PRAGMA staging.cache_size = -4096"); // 4 MiB
        // Private, short-lived progress (mode 0600, given back once empty): zeroing what is
        // deleted there would only write the merged pages a second time.
        db.exec("PRAGMA staging.secure_delete = OFF");
        db.exec(staging_tables);
        db.exec(fmt::format("PRAGMA staging.user_version = {}", staging_layout));
    } catch (SQLite::Exception const& e) {
        throw StoreError(fmt::format("cannot open the staging file {}: {}", path, e.what()));
    }
}

} // namespace dirsync::store
