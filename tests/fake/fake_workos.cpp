#include "fake_workos.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sstream>
#include <thread>
#include <vector>

namespace fake {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct FakeWorkos::Server {
    FakeWorkos& owner;
    asio::io_context ioc;
    std::optional<asio::ssl::context> tls;
    tcp::acceptor acceptor{ioc};
    std::vector<std::thread> threads;

    Server(FakeWorkos& o, std::optional<TlsFiles> const& files, unsigned short port, int n)
        : owner(o)
    {
        if (files) {
            tls.emplace(asio::ssl::context::tls_server);
            tls->use_certificate_chain_file(files->certificate_chain);
            tls->use_private_key_file(files->private_key, asio::ssl::context::pem);
            if (files->legacy_protocols_only) {
                // Security level 0: OpenSSL 3 refuses TLS below 1.2 at any higher level.
                SSL_CTX_set_security_level(tls->native_handle(), 0);
                SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_VERSION);
                SSL_CTX_set_max_proto_version(tls->native_handle(), TLS1_1_VERSION);
                SSL_CTX_set_cipher_list(tls->native_handle(), "DEFAULT:@SECLEVEL=0");
            }
        }
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen();
        asio::co_spawn(acceptor.get_executor(), accept_loop(), asio::detached);
        for (int i = 0; i < std::max(1, n); ++i)
            threads.emplace_back([this] { ioc.run(); });
    }

    ~Server()
    {
        ioc.stop();
        for (auto& t : threads)
            t.join();
    }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            // a strand per connection: its operations never run on two threads at once
            auto strand = asio::make_strand(ioc);
            auto [ec, socket] =
                co_await acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            asio::co_spawn(strand, session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket socket)
    {
        beast::tcp_stream plain(std::move(socket));
        if (!tls) {
            co_await serve(plain);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *tls);
        stream.next_layer().expires_after(std::chrono::seconds(10));
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                    asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return; // a client that refused our certificate: nothing to serve
        stream.next_layer().expires_never();
        co_await serve(stream);
    }

    // Network faults: a connection reset half-way through the body, a body that stops and hangs,
    // or a response that arrives a few bytes at a time.
    template <class Stream>
    asio::awaitable<void> deliver_badly(Stream& stream, http::response<http::string_body>& res,
                                        Delivery how)
    {
        std::ostringstream os;
        os << res;
        std::string const wire = os.str();
        auto& lowest = beast::get_lowest_layer(stream);
        asio::steady_timer timer(stream.get_executor());
        if (how == Delivery::drip) {
            for (std::size_t at = 0; at < wire.size(); at += 512) {
                auto [ec, n] = co_await asio::async_write(
                    stream,
                    asio::buffer(wire.data() + at, std::min<std::size_t>(512, wire.size() - at)),
                    asio::as_tuple(asio::use_awaitable));
                if (ec)
                    co_return;
                timer.expires_after(std::chrono::milliseconds(20));
                co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            co_return;
        }
        auto const half = wire.size() - res.body().size() / 2;
        co_await asio::async_write(stream, asio::buffer(wire.data(), half),
                                   asio::as_tuple(asio::use_awaitable));
        if (how == Delivery::hang) {
            timer.expires_after(std::chrono::seconds(30));
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        boost::system::error_code ignored;
        lowest.socket().set_option(asio::socket_base::linger(true, 0), ignored); // RST, not FIN
        lowest.socket().close(ignored);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream)
    {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] =
                co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            FakeRequest freq;
            freq.method = std::string(req.method_string());
            freq.target = std::string(req.target());
            for (auto const& field : req) {
                std::string name(field.name_string());
                for (auto& c : name)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                freq.headers[name] = std::string(field.value());
            }
            FakeResponse fres = owner.with([&](FakeApi& api) { return api.handle(freq); });

            http::response<http::string_body> res{static_cast<http::status>(fres.status),
                                                  req.version()};
            res.set(http::field::server, "fake-workos");
            res.set(http::field::content_type, fres.content_type);
            for (auto const& [name, value] : fres.headers)
                res.set(name, value);
            res.body() = std::move(fres.body);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            if (fres.delivery != Delivery::normal) {
                co_await deliver_badly(stream, res, fres.delivery);
                co_return;
            }
            auto [wec, wn] =
                co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
            if (wec || !res.keep_alive())
                co_return;
        }
    }
};

FakeWorkos::FakeWorkos(Dataset dataset, FakeOptions options, std::optional<TlsFiles> tls,
                       unsigned short port, int threads)
    : api_(std::move(dataset), std::move(options))
    , server_(std::make_unique<Server>(*this, tls, port, threads))
{
}

FakeWorkos::~FakeWorkos()
{
    server_.reset();
}

unsigned short FakeWorkos::port() const
{
    return server_->acceptor.local_endpoint().port();
}

std::string FakeWorkos::url() const
{
    return server_->tls ? "https://localhost:" + std::to_string(port())
                        : "http://127.0.0.1:" + std::to_string(port());
}

} // namespace fake
