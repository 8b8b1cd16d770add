// Notices when the database file is deleted or replaced (a new file moved over its path) while
// dirsyncd has it open: from then on our writes go to a file nobody reads, and the WAL beside
// the path belongs to the old file. The daemon stops (exit 5) instead; systemd restarts it on
// whatever file is there now.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace dirsync::daemon {

class DatabaseWatch {
public:
    // Remembers which file `path` names now.
    explicit DatabaseWatch(std::string path);

    // nullopt while the path still names the same file; else what happened to it, in words.
    std::optional<std::string> problem() const;

    std::string const& path() const { return path_; }

private:
    std::string path_;
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

} // namespace dirsync::daemon
