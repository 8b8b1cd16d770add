#include "instance_lock.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

namespace dirsync::daemon {

// flock() locks are independent of the fcntl() locks SQLite uses on the same file, so this lock
// never interferes with SQLite's own locking; readers do not take it.
InstanceLock::InstanceLock(std::string const& database_path)
{
    fd_ = ::open(database_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
        throw std::runtime_error(
            fmt::format("cannot open {} to lock it: {}", database_path, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int const err = errno;
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw std::runtime_error(
                fmt::format("another dirsyncd is already writing {}; only one may run per database",
                            database_path));
        throw std::runtime_error(
            fmt::format("cannot lock {}: {}", database_path, std::strerror(err)));
    }
}

InstanceLock::~InstanceLock()
{
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace dirsync::daemon
