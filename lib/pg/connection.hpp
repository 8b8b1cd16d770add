// One libpq connection to the PostgreSQL mirror, and the results of its statements. Blocking
// calls: the daemon's store will run them on a thread of its own (issue 12), never on the
// io_context.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace dirsync::pg {

// A statement or connection that failed. `sqlstate` is the server's code ("40001", "57P01"; empty
// when the failure is the connection's own); `connection_lost` when the session is gone (server
// restart, network, idle_session_timeout), so everything it held, its locks among them, is gone
// too. The message names the server (libpq's text), never the password.
class Error : public std::runtime_error {
public:
    Error(std::string const& message, std::string state, bool lost)
        : std::runtime_error(message)
        , sqlstate(std::move(state))
        , connection_lost(lost)
    {
    }
    std::string sqlstate;
    bool connection_lost;
};

// The rows of one statement, as text (PostgreSQL's text output of each value).
class Result {
public:
    explicit Result(pg_result* r);
    ~Result();
    Result(Result&&) noexcept;
    Result& operator=(Result&&) noexcept;

    int rows() const;
    bool is_null(int row, int column) const;
    std::string text(int row, int column) const; // "" for NULL
    std::optional<std::string> optional_text(int row, int column) const;
    long long integer(int row, int column) const; // throws Error for NULL or not a number
    // The rows an INSERT, UPDATE or DELETE changed.
    long long affected() const;

private:
    pg_result* r_;
};

// A NOTIFY this session LISTENs for.
struct Notification {
    std::string channel;
    std::string payload;
    int sender_pid = 0;
};

// Parameters of a statement, sent as text; nullopt is NULL.
using Params = std::vector<std::optional<std::string>>;

// A PostgreSQL array literal of text values ({"a","b\"c"}; nullopt is NULL), for one parameter
// that carries a whole batch (unnest($1::text[]), or ::jsonb[], ::timestamptz[], ...).
std::string text_array(std::span<std::string const> values);
std::string text_array(std::span<std::optional<std::string> const> values);

class Connection {
public:
    // Connects with a postgresql:// URL or a key=value conninfo (libpq's rules: PGPASSFILE,
    // sslmode, ...). Throws Error naming the server and why.
    explicit Connection(std::string const& conninfo);
    ~Connection();
    Connection(Connection const&) = delete;
    Connection& operator=(Connection const&) = delete;

    Result exec(std::string const& sql);
    // A parameter that holds a NUL byte (which PostgreSQL text cannot store) is refused before
    // it is sent: Error with sqlstate 22021, as the server would say, so that the caller treats
    // it as bad data rather than losing the rest of the value.
    Result exec(std::string const& sql, Params const& params);
    // Runs `sql` as the prepared statement `name`, prepared on its first use in this session:
    // a page of events runs the same few statements many times.
    Result exec_prepared(std::string const& name, std::string const& sql, Params const& params);

    // The next notification of a channel this session LISTENs to, waiting at most `wait` for
    // one to arrive; nullopt when none came. Throws Error when the session is lost.
    std::optional<Notification> next_notification(std::chrono::milliseconds wait);

    // False once the session is gone; a new Connection is the only way back.
    bool alive() const;
    // The server process of this session (pg_backend_pid()), for pg_terminate_backend in tests
    // and in the log.
    int backend_pid() const;
    // `name` quoted as an SQL identifier ("dirsyncd", "My Schema" -> "\"My Schema\"").
    std::string quote_identifier(std::string const& name) const;

private:
    Result check(pg_result* r, std::string const& sql);
    pg_conn* c_;
    std::set<std::string, std::less<>> prepared_;
};

} // namespace dirsync::pg
