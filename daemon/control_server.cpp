#include "control_server.hpp"

#include "exit_codes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace dirsync::daemon {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {
constexpr std::size_t max_request_bytes = 64 * 1024;
}

struct ControlServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor ex, std::string p, ControlHandler h, spdlog::logger& l)
        : path(std::move(p))
        , handler(std::move(h))
        , log(l)
        , acceptor(ex)
    {
    }
    std::string path;
    ControlHandler handler;
    spdlog::logger& log;
    local::acceptor acceptor;

    asio::awaitable<void> accept_loop()
    {
        auto self = shared_from_this();
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor.is_open())
                co_return;
            if (ec) {
                log.warn("control socket {}: accept failed: {}", path, ec.message());
                continue;
            }
            asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> serve(local::socket socket)
    {
        auto self = shared_from_this();
        ucred peer{};
        socklen_t len = sizeof peer;
        auto reply = [&](ControlReply const& r) -> asio::awaitable<void> {
            co_await asio::async_write(socket, asio::buffer(encode(r)),
                                       asio::as_tuple(asio::use_awaitable));
        };
        if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
            co_await reply(
                {exit_usage, fmt::format("cannot tell who is asking: {}", std::strerror(errno))});
            co_return;
        }
        auto const me = static_cast<unsigned>(::geteuid());
        if (!may_steer(static_cast<unsigned>(peer.uid), me)) {
            log.warn("control socket: refused a request from uid {} (only root and uid {} may "
                     "steer the daemon)",
                     peer.uid, me);
            co_await reply({exit_usage, permission_denied(me)});
            co_return;
        }
        std::string line;
        auto [ec, n] =
            co_await asio::async_read_until(socket, asio::dynamic_buffer(line, max_request_bytes),
                                            '\n', asio::as_tuple(asio::use_awaitable));
        if (ec) {
            log.warn("control socket: no request read from uid {}: {}", peer.uid, ec.message());
            co_return;
        }
        line.resize(n);
        std::string error;
        auto request = decode_request(line, error);
        if (!request) {
            co_await reply({exit_usage, error});
            co_return;
        }
        log.info("control: {}{}{}{} from uid {}", request->command,
                 request->directories.empty() ? "" : " ", fmt::join(request->directories, " "),
                 request->wait ? "" : " (--no-wait)", peer.uid);
        ControlReply answer;
        try {
            answer = co_await handler(std::move(*request));
        } catch (boost::system::system_error const& e) {
            if (e.code() == asio::error::operation_aborted)
                throw; // the daemon is stopping: the command sees the connection close
            answer = {exit_sync_failed, e.what()};
        } catch (std::exception const& e) {
            answer = {exit_sync_failed, e.what()};
        }
        co_await reply(answer);
    }
};

ControlServer::ControlServer(asio::any_io_executor ex, std::string path, ControlHandler handler,
                             spdlog::logger& log)
    : impl_(std::make_shared<Impl>(ex, std::move(path), std::move(handler), log))
{
    auto const& p = impl_->path;
    if (p.size() >= sizeof(sockaddr_un::sun_path))
        throw std::runtime_error(fmt::format(
            "control socket {}: the path is longer than a Unix socket allows ({} bytes); move "
            "the database to a shorter path to steer the daemon",
            p, sizeof(sockaddr_un::sun_path) - 1));
    // A socket a live daemon accepts on is its own (two PostgreSQL daemons on one host with one
    // control_socket); any other is a dead daemon's, replaced.
    if (in_use(p))
        throw std::runtime_error(
            fmt::format("control socket {}: another dirsyncd on this host listens on it", p));
    ::unlink(p.c_str());
    boost::system::error_code ec;
    auto& a = impl_->acceptor;
    a.open(local(), ec);
    if (!ec)
        a.bind(local::endpoint(p), ec);
    if (!ec && ::chmod(p.c_str(), 0600) != 0)
        ec.assign(errno, boost::system::system_category());
    if (!ec)
        a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error(fmt::format("control socket {}: {}", p, ec.message()));
}

ControlServer::~ControlServer()
{
    stop();
}

void ControlServer::start()
{
    asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), asio::detached);
}

void ControlServer::stop()
{
    if (!impl_->acceptor.is_open())
        return;
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    ::unlink(impl_->path.c_str());
}

bool ControlServer::in_use(std::string const& path)
{
    boost::asio::io_context ioc;
    local::socket probe(ioc);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path), ec);
    return !ec;
}

std::string const& ControlServer::path() const
{
    return impl_->path;
}

} // namespace dirsync::daemon
