// Appending to the PostgreSQL mirror's changes feed, and telling the apps that LISTEN: rows go
// in with one statement per batch, inside the caller's transaction, and with them
// pg_notify('dirsyncd_changes', '<max seq>') is queued in that same transaction. PostgreSQL
// delivers a notification when its transaction commits and drops it when it rolls back, so an
// app that hears seq N can read every row up to N, and never hears of rows that did not land.
#pragma once

#include "pg/connection.hpp"

#include <algorithm>
#include <optional>
#include <span>
#include <string>

namespace dirsync::pg {

struct Change {
    std::string directory_id;
    char const* entity; // directory, user, group, membership
    std::string entity_id;
    char const* op; // upsert, delete
};

inline constexpr char const* changes_channel = "dirsyncd_changes";

class ChangeFeed {
public:
    explicit ChangeFeed(Connection& db)
        : db_(db)
    {
    }

    // Appends `changes` (changed_at = `now`, ISO 8601), in order; returns the highest seq.
    // Call inside a transaction.
    long long record(std::string const& now, std::span<Change const> changes);
    // Queues the notification of the rows recorded since the last call (nothing when there
    // were none). Call before COMMIT, in the same transaction.
    void notify_before_commit();
    // Forgets the rows recorded since the last notify (their transaction rolled back).
    void forget() { max_seq_.reset(); }

    // Rows that a statement of the caller's added itself (a data-modifying WITH that inserts
    // into changes): `seq` is the highest of them.
    void saw(long long seq) { max_seq_ = std::max(max_seq_.value_or(seq), seq); }
    // Where the feed stands, and back to it when a savepoint rolls back.
    using Mark = std::optional<long long>;
    Mark mark() const { return max_seq_; }
    void rewind(Mark m) { max_seq_ = m; }

private:
    Connection& db_;
    std::optional<long long> max_seq_;
};

} // namespace dirsync::pg
