// A full sync of every directory in scope: find the directories, remove the ones gone upstream,
// sync the others concurrently (bounded).
#pragma once

#include "model/sync_options.hpp"
#include "sync/directory_sync.hpp"
#include "sync/failure.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dirsync::sync {

struct DirectoryFailure {
    std::string directory_id;
    std::string message;
    FailureKind kind = FailureKind::other;
};

struct FullSyncReport {
    std::vector<std::string> synced;
    std::vector<std::string> removed; // gone upstream or out of scope, deleted from the mirror
    std::vector<DirectoryFailure> failures;
    std::int64_t users = 0, groups = 0, memberships = 0; // live rows of the synced directories
    // dry runs (DirectorySyncOptions::merge_held): directory -> why a real sync would be held
    std::map<std::string, std::string> would_hold;
};

// Throws when the directories themselves cannot be listed (bad key, unreachable API, ...). A
// failure of one directory is recorded in its sync_state row and in the report; the others go on.
boost::asio::awaitable<FullSyncReport> run_full_sync(SyncServices services,
                                                     FullSyncOptions options);

// A full sync of just these directories: each is read with GET /directories/{id}; one that is
// gone is removed from the mirror; other directories are left alone. Announced by events, one
// out of scope is skipped; named by an operator, one out of scope, or unknown to both the API
// and the mirror, is a failure of the report.
enum class Named { by_events, by_operator };
boost::asio::awaitable<FullSyncReport> run_directory_syncs(SyncServices services,
                                                           FullSyncOptions options,
                                                           std::vector<std::string> directory_ids,
                                                           Named named = Named::by_events);

// True when a directory (of this organization, when known) is in `scope` (empty scope: all).
bool in_scope(Scope const& scope, std::string const& directory_id,
              std::optional<std::string> const& organization_id);

} // namespace dirsync::sync
