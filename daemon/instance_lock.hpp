// One writer per database: an exclusive lock on the database file, held for the process lifetime.
#pragma once

#include <string>

namespace dirsync::daemon {

class InstanceLock {
public:
    // Throws std::runtime_error naming the file when another process holds the lock.
    explicit InstanceLock(std::string const& database_path);
    ~InstanceLock();
    InstanceLock(InstanceLock const&) = delete;
    InstanceLock& operator=(InstanceLock const&) = delete;

private:
    int fd_ = -1;
};

} // namespace dirsync::daemon
