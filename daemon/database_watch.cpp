#include "database_watch.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::daemon {

std::optional<DatabaseWatch::FileId> DatabaseWatch::identify(std::string const& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

DatabaseWatch::DatabaseWatch(std::string path)
    : path_(std::move(path))
{
    auto id = identify(path_);
    if (!id)
        throw std::runtime_error(
            fmt::format("cannot stat database {}: {}", path_, std::strerror(errno)));
    database_ = *id;
    wal_ = identify(path_ + "-wal");
    shm_ = identify(path_ + "-shm");
}

std::optional<std::string> DatabaseWatch::problem() const
{
    auto const now = identify(path_);
    if (!now) { // errno is stat's
        if (errno == ENOENT)
            return fmt::format("the database file {} was deleted while dirsyncd had it open",
                               path_);
        return fmt::format("the database file {} cannot be checked: {}", path_,
                           std::strerror(errno));
    }
    if (*now != database_)
        return fmt::format("the database file {} was replaced by another file while dirsyncd "
                           "had it open",
                           path_);
    return std::nullopt;
}

std::vector<std::string> DatabaseWatch::remove_stale_companions() const
{
    std::vector<std::string> removed;
    for (auto const& [suffix, ours] : {std::pair{"-wal", wal_}, std::pair{"-shm", shm_}}) {
        auto const companion = path_ + suffix;
        if (ours && identify(companion) == ours && ::unlink(companion.c_str()) == 0)
            removed.push_back(companion);
    }
    return removed;
}

} // namespace dirsync::daemon
