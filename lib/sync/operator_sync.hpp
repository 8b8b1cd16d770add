// What an operator asks of one directory or of all (`dirsyncd resync | evict | allow-deletions`),
// done the same way by the daemon and by the command when no daemon runs.
#pragma once

#include "sync/full_sync.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dirsync::sync {

enum class OperatorAction {
    resync,          // a full sync of the named directories (all when none is named)
    evict,           // delete the directory's rows (recorded in `changes`), then sync it afresh
    allow_deletions, // a full sync, on a fresh listing, whose deletions pass the limit, once
};
char const* operator_action_name(OperatorAction a); // "resync", "evict", "allow-deletions"
std::optional<OperatorAction> parse_operator_action(std::string_view name);

struct OperatorRequest {
    OperatorAction action = OperatorAction::resync;
    std::vector<std::string> directories;
};

// Named directories unknown to both the API and the mirror, or out of scope, are failures of
// the report; the others are synced as run_directory_syncs does.
boost::asio::awaitable<FullSyncReport>
run_operator_request(SyncServices services, FullSyncOptions options, OperatorRequest request);

} // namespace dirsync::sync
