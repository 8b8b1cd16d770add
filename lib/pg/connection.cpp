#include "pg/connection.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <libpq-fe.h>
#include <poll.h>
#include <utility>

namespace dirsync::pg {
namespace {

// libpq's messages end with a newline and may span lines; a log line wants one.
std::string one_line(char const* message)
{
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    for (auto& c : s)
        if (c == '\n')
            c = ' ';
    return s;
}

// The first words of a statement, for an error message (never its parameters).
std::string what_ran(std::string const& sql)
{
    auto s = sql.substr(0, sql.find_first_of("\n("));
    return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

} // namespace

namespace {

void append_quoted(std::string& out, std::string const& v)
{
    out += '"';
    for (char c : v) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '"';
}

} // namespace

std::string text_array(std::span<std::string const> values)
{
    std::string out = "{";
    for (auto const& v : values) {
        if (out.size() > 1)
            out += ',';
        append_quoted(out, v);
    }
    return out + "}";
}

std::string text_array(std::span<std::optional<std::string> const> values)
{
    std::string out = "{";
    for (auto const& v : values) {
        if (out.size() > 1)
            out += ',';
        if (v)
            append_quoted(out, *v);
        else
            out += "NULL";
    }
    return out + "}";
}

Result::Result(pg_result* r)
    : r_(r)
{
}
Result::~Result()
{
    PQclear(r_);
}
Result::Result(Result&& o) noexcept
    : r_(std::exchange(o.r_, nullptr))
{
}
Result& Result::operator=(Result&& o) noexcept
{
    std::swap(r_, o.r_);
    return *this;
}

int Result::rows() const
{
    return PQntuples(r_);
}

bool Result::is_null(int row, int column) const
{
    return PQgetisnull(r_, row, column) != 0;
}

std::string Result::text(int row, int column) const
{
    return std::string(PQgetvalue(r_, row, column),
                       static_cast<std::size_t>(PQgetlength(r_, row, column)));
}

std::optional<std::string> Result::optional_text(int row, int column) const
{
    if (is_null(row, column))
        return std::nullopt;
    return text(row, column);
}

long long Result::integer(int row, int column) const
{
    auto const s = text(row, column);
    long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (is_null(row, column) || ec != std::errc{} || end != s.data() + s.size())
        throw Error(fmt::format("column {} of row {} is not an integer: '{}'", column, row, s), "",
                    false);
    return v;
}

long long Result::affected() const
{
    char const* n = PQcmdTuples(r_);
    return n && *n ? std::atoll(n) : 0;
}

namespace {

// A network database can vanish without a word (a cut cable, a host gone): without these, a
// blocking call would wait for the answer forever. TCP keepalives and tcp_user_timeout end a dead
// connection within about 20 s; connect_timeout bounds a connection attempt. The conninfo's own
// values win (libpq processes the expanded dbname after these).
PGconn* connect_with_timeouts(std::string const& conninfo)
{
    char const* const keywords[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
    char const* const values[] = {"10", "1", "10", "3", "3", "20000", conninfo.c_str(), nullptr};
    return PQconnectdbParams(keywords, values, 1);
}

} // namespace

Connection::Connection(std::string const& conninfo)
    : c_(connect_with_timeouts(conninfo))
{
    if (!c_)
        throw Error("PostgreSQL: out of memory while connecting", "", true);
    if (PQstatus(c_) != CONNECTION_OK) {
        auto message = one_line(PQerrorMessage(c_));
        PQfinish(c_);
        throw Error("PostgreSQL: " + message, "", true);
    }
}

Connection::~Connection()
{
    PQfinish(c_);
}

Result Connection::check(pg_result* r, std::string const& sql)
{
    Result result(r);
    auto const status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return result;
    char const* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    auto message = one_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
    if (message.empty())
        message = one_line(PQerrorMessage(c_));
    throw Error(fmt::format("PostgreSQL: {} (in: {})", message, what_ran(sql)), state ? state : "",
                PQstatus(c_) != CONNECTION_OK);
}

Result Connection::exec(std::string const& sql)
{
    return check(PQexec(c_, sql.c_str()), sql);
}

namespace {

std::vector<char const*> values_of(Params const& params, std::string const& sql)
{
    std::vector<char const*> values;
    values.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        auto const& p = params[i];
        if (p && p->find('\0') != std::string::npos)
            throw Error(fmt::format("PostgreSQL: parameter ${} holds a NUL byte, which a text "
                                    "value cannot store (in: {})",
                                    i + 1, what_ran(sql)),
                        "22021", false);
        values.push_back(p ? p->c_str() : nullptr);
    }
    return values;
}

} // namespace

Result Connection::exec(std::string const& sql, Params const& params)
{
    auto const values = values_of(params, sql);
    return check(PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 sql);
}

Result Connection::exec_prepared(std::string const& name, std::string const& sql,
                                 Params const& params)
{
    auto const values = values_of(params, sql);
    if (!prepared_.contains(name)) {
        check(PQprepare(c_, name.c_str(), sql.c_str(), 0, nullptr), sql);
        prepared_.insert(name);
    }
    return check(PQexecPrepared(c_, name.c_str(), static_cast<int>(values.size()), values.data(),
                                nullptr, nullptr, 0),
                 sql);
}

std::optional<Notification> Connection::next_notification(std::chrono::milliseconds wait)
{
    auto const deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (PQconsumeInput(c_) == 0)
            throw Error("PostgreSQL: " + one_line(PQerrorMessage(c_)), "",
                        PQstatus(c_) != CONNECTION_OK);
        if (PGnotify* n = PQnotifies(c_)) {
            Notification out{n->relname, n->extra ? n->extra : "", n->be_pid};
            PQfreemem(n);
            return out;
        }
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        pollfd fd{PQsocket(c_), POLLIN, 0};
        ::poll(&fd, 1, static_cast<int>(left.count()));
    }
}

bool Connection::alive() const
{
    return PQstatus(c_) == CONNECTION_OK;
}

int Connection::backend_pid() const
{
    return PQbackendPID(c_);
}

std::string Connection::quote_identifier(std::string const& name) const
{
    char* q = PQescapeIdentifier(c_, name.data(), name.size());
    if (!q)
        throw Error("PostgreSQL: cannot quote identifier: " + one_line(PQerrorMessage(c_)), "",
                    false);
    std::string out(q);
    PQfreemem(q);
    return out;
}

} // namespace dirsync::pg
