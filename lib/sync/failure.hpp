// What ended a sync step, classified once for every caller: the daemon's loops (log, backoff,
// status) and `--once` (its exit code).
#pragma once

#include <exception>
#include <string>

namespace dirsync::sync {

enum class FailureKind {
    cancelled, // operation_aborted: a stop; never retried nor logged
    auth,      // the API rejected the key (401)
    api,       // another non-success answer from the API, after its retries
    network,   // unreachable, reset, timed out
    tls,       // a certificate or handshake refused
    protocol,  // a response that is not what the endpoint returns
    held,      // a full sync held back: it would delete too much
    sync,      // the listing itself went wrong (a stuck cursor, a cap, a record without id)
    database,  // SQLite could not write (a full disk, a lock past the timeout, damage)
    store,     // the database file cannot be used (not SQLite, another app's, newer schema)
    other      // anything else
};

struct Failure {
    FailureKind kind = FailureKind::other;
    std::string message; // what(); for `database`, prefixed "database: " with what it means
};

Failure classify_failure(std::exception_ptr error);

inline bool is_cancellation(std::exception_ptr error)
{
    return classify_failure(std::move(error)).kind == FailureKind::cancelled;
}

} // namespace dirsync::sync
