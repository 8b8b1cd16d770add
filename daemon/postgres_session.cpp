#include "postgres_session.hpp"

#include "pg/conninfo.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace dirsync::daemon {
namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string postgres_where(std::string const& conninfo, std::string const& schema)
{
    return fmt::format("database {} (schema {})", pg::redacted(conninfo), schema);
}

void use_password_credential(std::map<std::string, std::string> const& environment,
                             spdlog::logger& log, std::string const& where)
{
    if (auto file = pg::password_file_from_credentials(environment)) {
        ::setenv("PGPASSFILE", file->c_str(), 1); // libpq reads it when the URL has no password
        log.info("{}: the password file is the systemd credential pgpass", where);
    }
}

std::chrono::milliseconds lease_idle_timeout(std::chrono::milliseconds poll_interval)
{
    return std::max<std::chrono::milliseconds>(2 * poll_interval, 2s);
}

asio::awaitable<void> keep_lease(pg::WriterLease& lease, std::chrono::milliseconds every,
                                 std::string where)
{
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_after(every);
        co_await timer.async_wait(asio::use_awaitable);
        bool confirmed = false;
        try {
            confirmed = lease.confirm();
        } catch (pg::Error const&) {
        }
        if (!confirmed)
            throw pg::Error(fmt::format("{}: lost the writer lease (the server ended this "
                                        "session); stopped writing so as never to be a second "
                                        "writer",
                                        where),
                            "", true);
    }
}

} // namespace dirsync::daemon
