#include "control_client.hpp"

#include "exit_codes.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace dirsync::daemon {

namespace {

struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

bool send_all(int fd, std::string const& data)
{
    std::size_t sent = 0;
    while (sent < data.size()) {
        auto const n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

std::optional<ControlReply> ask_daemon(std::string const& socket_path,
                                       ControlRequest const& request)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path)
        return ControlReply{exit_usage,
                            fmt::format("control socket {}: the path is too long for a Unix "
                                        "socket; move the database to a shorter path",
                                        socket_path)};
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0)
        return ControlReply{exit_usage, fmt::format("socket: {}", std::strerror(errno))};
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int const err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            return std::nullopt;
        if (err == EACCES || err == EPERM) {
            struct stat st {};
            ::stat(socket_path.c_str(), &st);
            return ControlReply{exit_usage, permission_denied(st.st_uid)};
        }
        return ControlReply{exit_usage, fmt::format("cannot reach the daemon at {}: {}",
                                                    socket_path, std::strerror(err))};
    }
    // The daemon checks who we are first: a refusal may already be waiting, so a failed send
    // is not the end.
    bool const sent = send_all(s.fd, encode(request));
    std::string line;
    char buf[4096];
    for (;;) {
        auto const n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        line.append(buf, static_cast<std::size_t>(n));
        if (line.find('\n') != std::string::npos)
            break;
    }
    if (line.find('\n') == std::string::npos)
        return ControlReply{
            exit_sync_failed,
            sent ? "the daemon closed the connection before it answered (did it "
                   "stop?); see its log"
                 : fmt::format("cannot send the request to the daemon at {}", socket_path)};
    line.resize(line.find('\n'));
    std::string error;
    if (auto reply = decode_reply(line, error))
        return reply;
    return ControlReply{exit_sync_failed, error};
}

} // namespace dirsync::daemon
