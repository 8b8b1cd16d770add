// Which dirsyncd writes a shared PostgreSQL mirror. Several may point at one schema (one per
// host); the writer is the one whose session holds a session-level advisory lock on a key
// derived from the schema name, hashtextextended('dirsyncd writer:' || schema, 0). The others
// are standbys and try again. The lock lives exactly as long as the session, so:
//   * the writer killed or its host gone: the server ends the session, the lock is free;
//   * the writer paused (SIGSTOP) or cut off: the session falls idle and the server ends it
//     after `idle_timeout` (idle_session_timeout, idle_in_transaction_session_timeout,
//     tcp_user_timeout), so it cannot hold the mirror hostage;
//   * a writer that comes back finds its session gone (confirm() is false) and must stop
//     writing: its writes ran on that session, so none of them can land after the lock moved.
// Needs a direct session to the server: a transaction-pooling proxy (pgbouncer in transaction
// mode) would hand the lock to whatever session runs the statement.
#pragma once

#include "pg/connection.hpp"

#include <chrono>
#include <string>

namespace dirsync::pg {

class WriterLease {
public:
    // Sets the session's timeouts: a session that runs no statement for `idle_timeout` is ended
    // by the server. The writer must run one (confirm()) more often than that.
    WriterLease(Connection& db, std::string const& schema, std::chrono::milliseconds idle_timeout);

    // Takes the lock when it is free; true when this session holds it (now or already).
    bool try_acquire();
    // One round trip: true while this session holds the lock. False when the session is gone or
    // the lock was released; the caller is a standby from then on.
    bool confirm();
    bool held() const { return held_; }
    // Gives the lock up (a clean shutdown), so a standby takes over at its next try.
    void release();

    // Whether some session (any dirsyncd, on any host) holds the lease of `schema` now; plain
    // pg_locks, so a reader role may ask.
    static bool taken(Connection& db, std::string const& schema);

    // The lock's key for `schema`, as the server computes it (pg_locks shows it as classid and
    // objid).
    static long long key(Connection& db, std::string const& schema);

private:
    Connection& db_;
    std::string name_;
    bool held_ = false;
};

} // namespace dirsync::pg
