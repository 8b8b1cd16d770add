#include "metrics_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace dirsync::daemon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

template <class Protocol>
asio::awaitable<void> answer_one(typename Protocol::socket socket, HttpHandler handler,
                                 spdlog::logger& log)
{
    beast::basic_stream<Protocol> stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(10)); // a client that stalls loses its connection
    try {
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        co_await http::async_read(stream, buffer, req, asio::use_awaitable);
        HttpAnswer a;
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            a = {405, "text/plain; charset=utf-8", "only GET\n"};
        else
            a = handler(std::string(req.target()));
        http::response<http::string_body> res{static_cast<http::status>(a.status), req.version()};
        res.set(http::field::server, "dirsyncd");
        res.set(http::field::content_type, a.content_type);
        res.keep_alive(false);
        if (req.method() != http::verb::head)
            res.body() = std::move(a.body);
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::use_awaitable);
    } catch (boost::system::system_error const& e) {
        log.debug("metrics: a request failed: {}", e.code().message());
    } catch (std::exception const& e) {
        log.error("metrics: {}", e.what());
    }
    beast::error_code ignored;
    stream.socket().shutdown(Protocol::socket::shutdown_both, ignored);
}

template <class Protocol>
asio::awaitable<void> accept_loop(typename Protocol::acceptor& acceptor, HttpHandler handler,
                                  spdlog::logger& log)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted || !acceptor.is_open())
            co_return;
        if (ec) {
            log.warn("metrics: accept failed: {}", ec.message());
            continue;
        }
        asio::co_spawn(acceptor.get_executor(),
                       answer_one<Protocol>(std::move(socket), handler, log), asio::detached);
        // (the handler is copied: a request in flight outlives the listener)
    }
}

} // namespace

struct MetricsServer::Impl {
    asio::any_io_executor ex;
    HttpHandler handler;
    spdlog::logger& log;
    std::optional<asio::ip::tcp::acceptor> tcp;
    std::optional<asio::local::stream_protocol::acceptor> local;
    std::string where;
};

MetricsServer::MetricsServer(asio::any_io_executor ex, ListenAddress const& address,
                             HttpHandler handler, spdlog::logger& log)
    : impl_(new Impl{ex, std::move(handler), log, {}, {}, {}})
{
    try {
        if (address.unix_path) {
            // A socket file left by a crash is ours to replace; anything else is not.
            struct stat st {};
            if (::lstat(address.unix_path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
                ::unlink(address.unix_path->c_str());
            impl_->local.emplace(ex, asio::local::stream_protocol::endpoint(*address.unix_path));
            ::chmod(address.unix_path->c_str(), 0660); // the daemon's user and group
            impl_->where = *address.unix_path;
        } else {
            asio::ip::tcp::resolver resolver(ex);
            auto const results = resolver.resolve(address.host, std::to_string(address.port));
            auto const endpoint = results.begin()->endpoint();
            impl_->tcp.emplace(ex, endpoint); // reuse_address: a restart binds at once
            auto const port = impl_->tcp->local_endpoint().port();
            bool const v6 = address.host.find(':') != std::string::npos;
            impl_->where = v6 ? fmt::format("http://[{}]:{}", address.host, port)
                              : fmt::format("http://{}:{}", address.host, port);
        }
    } catch (boost::system::system_error const& e) {
        throw std::runtime_error(fmt::format("metrics_address: cannot listen on {}: {}",
                                             address.unix_path
                                                 ? *address.unix_path
                                                 : fmt::format("{}:{}", address.host, address.port),
                                             e.code().message()));
    }
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::start()
{
    if (impl_->tcp)
        asio::co_spawn(impl_->ex,
                       accept_loop<asio::ip::tcp>(*impl_->tcp, impl_->handler, impl_->log),
                       asio::detached);
    else
        asio::co_spawn(
            impl_->ex,
            accept_loop<asio::local::stream_protocol>(*impl_->local, impl_->handler, impl_->log),
            asio::detached);
}

void MetricsServer::stop()
{
    beast::error_code ignored;
    if (impl_->tcp)
        impl_->tcp->close(ignored);
    if (impl_->local)
        impl_->local->close(ignored);
}

std::string MetricsServer::where() const
{
    return impl_->where;
}

} // namespace dirsync::daemon
