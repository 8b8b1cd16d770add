#include "database_watch.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

namespace dirsync::daemon {

DatabaseWatch::DatabaseWatch(std::string path)
    : path_(std::move(path))
{
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0)
        throw std::runtime_error(
            fmt::format("cannot stat database {}: {}", path_, std::strerror(errno)));
    device_ = st.st_dev;
    inode_ = st.st_ino;
}

std::optional<std::string> DatabaseWatch::problem() const
{
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return fmt::format("the database file {} was deleted while dirsyncd had it open",
                               path_);
        return fmt::format("the database file {} cannot be checked: {}", path_,
                           std::strerror(errno));
    }
    if (st.st_dev != device_ || st.st_ino != inode_)
        return fmt::format("the database file {} was replaced by another file while dirsyncd "
                           "had it open",
                           path_);
    return std::nullopt;
}

} // namespace dirsync::daemon
