#include "http/beast_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include <list>
#include <set>
#include <variant>
#include <vector>

namespace dirsync::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// SSL_set_tlsext_host_name is a macro hiding a C cast; keep the warning off for it alone.
bool set_sni(TlsStream& stream, std::string const& host)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    return SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) == 1;
#pragma GCC diagnostic pop
}

// Beast reads at most the buffer's free capacity (at least 512 bytes) per read: from an empty
// buffer, a 43 KB page took some 90 reads, each a pass through the TLS engine. With room for a
// few TLS records a read takes a whole one.
constexpr std::size_t read_buffer_bytes = 64 * 1024;

struct Connection {
    std::variant<PlainStream, TlsStream> stream;
    beast::flat_buffer buffer;

    template <class... Args>
    explicit Connection(Args&&... args)
        : stream(std::forward<Args>(args)...)
    {
        buffer.reserve(read_buffer_bytes);
    }
    beast::tcp_stream& tcp()
    {
        return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                          stream);
    }
};

// Errors that mean a reused keep-alive connection had been closed by the server while idle.
bool is_stale_connection_error(boost::system::error_code ec)
{
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated;
}

} // namespace

struct BeastTransport::Impl {
    asio::any_io_executor ex;
    Url url;
    TransportOptions options;
    spdlog::logger& log;
    ssl::context tls{ssl::context::tls_client};
    std::vector<std::unique_ptr<Connection>> idle;
    std::size_t open = 0; // leased + idle
    std::list<asio::steady_timer*> waiters;
    std::set<Connection*> busy; // leased connections, for shutdown()
    std::uint64_t opened_total = 0;
    bool shut_down = false;

    Impl(asio::any_io_executor e, Url u, TransportOptions o, spdlog::logger& l)
        : ex(std::move(e))
        , url(std::move(u))
        , options(std::move(o))
        , log(l)
    {
        // TLS 1.2 is the oldest we speak: a server offering only 1.0/1.1 is refused.
        SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
        tls.set_verify_mode(ssl::verify_peer);
        if (options.ca_file)
            tls.load_verify_file(*options.ca_file);
        else
            tls.set_default_verify_paths();
    }

    // A slot in the pool: either an idle connection or permission to open a new one.
    struct Lease {
        Impl* pool;
        std::unique_ptr<Connection> conn;
        bool reusable = false;
        Lease(Impl* p, std::unique_ptr<Connection> c)
            : pool(p)
            , conn(std::move(c))
        {
        }
        Lease(Lease&& o) noexcept
            : pool(std::exchange(o.pool, nullptr))
            , conn(std::move(o.conn))
            , reusable(o.reusable)
        {
        }
        Lease& operator=(Lease&&) = delete;
        ~Lease()
        {
            if (pool)
                pool->release(std::move(conn), reusable);
        }
    };

    asio::awaitable<Lease> acquire()
    {
        for (;;) {
            if (!idle.empty()) {
                auto c = std::move(idle.back());
                idle.pop_back();
                co_return Lease(this, std::move(c));
            }
            if (open < options.max_connections) {
                ++open;
                co_return Lease(this, nullptr);
            }
            // Wait until a lease is returned; release() wakes us by cancelling the timer.
            asio::steady_timer timer(ex, asio::steady_timer::time_point::max());
            auto it = waiters.insert(waiters.end(), &timer);
            // Woken by release() (operation_aborted) or by our own cancellation, checked below.
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            waiters.erase(it);
            auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none)
                throw boost::system::system_error(asio::error::operation_aborted);
        }
    }

    void release(std::unique_ptr<Connection> conn, bool reusable)
    {
        if (conn && reusable)
            idle.push_back(std::move(conn));
        else
            --open;
        if (!waiters.empty())
            waiters.front()->cancel();
    }

    asio::awaitable<std::unique_ptr<Connection>> connect()
    {
        tcp::resolver resolver(ex);
        auto const endpoints =
            co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
        std::unique_ptr<Connection> conn;
        if (url.is_tls())
            conn = std::make_unique<Connection>(std::in_place_type<TlsStream>, ex, tls);
        else
            conn = std::make_unique<Connection>(std::in_place_type<PlainStream>, ex);
        conn->tcp().expires_after(options.connect_timeout);
        co_await conn->tcp().async_connect(endpoints, asio::use_awaitable);
        if (auto* tls_stream = std::get_if<TlsStream>(&conn->stream)) {
            if (!set_sni(*tls_stream, url.host))
                throw boost::system::system_error(static_cast<int>(::ERR_get_error()),
                                                  asio::error::get_ssl_category());
            // Verify the chain AND that the certificate names the host we asked for.
            tls_stream->set_verify_callback(ssl::host_name_verification(url.host));
            conn->tcp().expires_after(options.connect_timeout);
            co_await tls_stream->async_handshake(ssl::stream_base::client, asio::use_awaitable);
        }
        conn->tcp().expires_never();
        ++opened_total;
        co_return conn;
    }

    template <class Stream>
    asio::awaitable<Response> exchange(Stream& stream, Connection& conn,
                                       bhttp::request<bhttp::empty_body> const& req,
                                       bool& keep_alive)
    {
        conn.tcp().expires_after(options.request_timeout);
        co_await bhttp::async_write(stream, req, asio::use_awaitable);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(options.max_response_bytes);
        parser.header_limit(options.max_header_bytes);
        co_await bhttp::async_read(stream, conn.buffer, parser, asio::use_awaitable);
        conn.tcp().expires_never();
        auto& res = parser.get();
        Response out;
        out.status = res.result_int();
        out.body = std::move(res.body());
        if (auto it = res.find("X-Request-ID"); it != res.end()) // lookup is case-insensitive
            out.request_id = std::string(it->value());
        if (auto it = res.find(bhttp::field::retry_after); it != res.end())
            out.retry_after = std::string(it->value());
        keep_alive = res.keep_alive();
        co_return out;
    }

    asio::awaitable<Response> send(Connection& conn, bhttp::request<bhttp::empty_body> const& req,
                                   bool& keep_alive)
    {
        busy.insert(&conn); // shutdown() closes it while the exchange is in flight
        struct Unmark {
            std::set<Connection*>& set;
            Connection* c;
            ~Unmark() { set.erase(c); }
        } unmark{busy, &conn};
        if (auto* s = std::get_if<TlsStream>(&conn.stream))
            co_return co_await exchange(*s, conn, req, keep_alive);
        co_return co_await exchange(std::get<PlainStream>(conn.stream), conn, req, keep_alive);
    }

    bhttp::request<bhttp::empty_body> build(Request const& r) const
    {
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, url.base_path + r.target, 11};
        bool const default_port = url.port == (url.is_tls() ? "443" : "80");
        bool const v6 = url.host.find(':') != std::string::npos;
        std::string host = v6 ? "[" + url.host + "]" : url.host;
        req.set(bhttp::field::host, default_port ? host : host + ":" + url.port);
        for (auto const& [name, value] : r.headers)
            req.set(name, value);
        return req;
    }

    void shutdown()
    {
        shut_down = true;
        boost::system::error_code ignored;
        for (auto* c : busy)
            c->tcp().socket().close(ignored);
        idle.clear();
        for (auto* w : waiters)
            w->cancel();
    }

    asio::awaitable<Response> get(Request request)
    {
        if (shut_down)
            throw boost::system::system_error(asio::error::operation_aborted);
        auto const req = build(request);
        auto lease = co_await acquire();
        if (shut_down)
            throw boost::system::system_error(asio::error::operation_aborted);
        // A reused connection may have been closed by the server while idle (so, likely, were
        // the others): drop them and let the caller send again, through its pacing. A new
        // connection's failure is the caller's to retry like any.
        if (lease.conn) {
            bool keep_alive = false;
            std::optional<boost::system::error_code> stale;
            try {
                auto res = co_await send(*lease.conn, req, keep_alive);
                lease.reusable = keep_alive;
                co_return res;
            } catch (boost::system::system_error const& e) {
                if (!is_stale_connection_error(e.code()))
                    throw;
                stale = e.code();
            }
            log.warn("GET {}: the reused connection to {} failed ({}); sending it again on a new "
                     "connection",
                     request.target, url.host, stale->message());
            lease.conn.reset();
            open -= idle.size();
            idle.clear();
            throw StaleConnection(stale->message());
        }
        lease.conn = co_await connect();
        bool keep_alive = false;
        auto res = co_await send(*lease.conn, req, keep_alive);
        lease.reusable = keep_alive;
        co_return res;
    }
};

BeastTransport::BeastTransport(asio::any_io_executor ex, Url url, TransportOptions options,
                               spdlog::logger& log)
    : impl_(std::make_unique<Impl>(std::move(ex), std::move(url), std::move(options), log))
{
}

BeastTransport::~BeastTransport() = default;

asio::awaitable<Response> BeastTransport::get(Request request)
{
    return impl_->get(std::move(request));
}

void BeastTransport::shutdown()
{
    impl_->shutdown();
}

std::uint64_t BeastTransport::connections_opened() const
{
    return impl_->opened_total;
}

} // namespace dirsync::http
