// Notices when the database file is deleted or replaced (a new file moved over its path) while
// dirsyncd has it open: from then on our writes go to a file nobody reads, and the WAL beside
// the path belongs to the old file. The daemon stops (exit 5) instead; systemd restarts it on
// whatever file is there now.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dirsync::daemon {

class DatabaseWatch {
public:
    // Remembers which files `path` and its -wal and -shm name now (open the database first).
    explicit DatabaseWatch(std::string path);

    // nullopt while the path still names the same file; else what happened to it, in words.
    std::optional<std::string> problem() const;

    // Once the database file is gone: removes the -wal and -shm beside the path that are still
    // the ones we opened. They belong to the old file, and SQLite would apply that WAL to
    // whatever file it next opens at the path (a restored backup, a new mirror), damaging it.
    // Returns the paths removed.
    std::vector<std::string> remove_stale_companions() const;

    std::string const& path() const { return path_; }

private:
    struct FileId {
        dev_t device = 0;
        ino_t inode = 0;
        bool operator==(FileId const&) const = default;
    };
    static std::optional<FileId> identify(std::string const& path);

    std::string path_;
    FileId database_;
    std::optional<FileId> wal_, shm_;
};

} // namespace dirsync::daemon
