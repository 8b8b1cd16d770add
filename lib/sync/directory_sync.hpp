// Full sync of one directory: groups, users and memberships land page by page in staging, then
// one transaction merges them into the live tables.
#pragma once

#include "api/api_client.hpp"
#include "model/model.hpp"
#include "model/sync_options.hpp"
#include "store/mirror_writer.hpp"
#include "sync/sync_error.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <optional>

namespace spdlog {
class logger;
}

namespace dirsync::sync {

struct DirectorySyncResult {
    store::MergeResult merge;
    MembershipSource strategy = MembershipSource::per_group;
    std::uint64_t requests = 0; // pages fetched by this sync (retries not counted)
    bool resumed = false;
    // With DirectorySyncOptions::merge_held: why a real sync would have been held, if it would.
    std::optional<std::string> would_hold;
};

// Services the sync works with; owned by the caller and shared by concurrent directory syncs.
struct SyncServices {
    api::ApiClient& api;
    store::MirrorWriter& store;
    spdlog::logger& log;
    std::function<void()> on_progress{}; // called after every stored page (systemd, watchdog)
};

// The membership strategy a full sync planned for the directory (`auto` only), and, for one it
// could not plan (no counts known before the listing), how many directories share the global
// pace with it while it decides from what it listed.
struct MembershipChoice {
    std::optional<MembershipSource> planned;
    int directories_in_flight = 1;
};

// Throws ApiError / TransportError / SQLite::Exception / SyncError; the staging keeps every page
// stored so far, and the next attempt within the resume window continues from there.
boost::asio::awaitable<DirectorySyncResult> sync_directory(SyncServices services,
                                                           DirectorySyncOptions options,
                                                           Directory directory,
                                                           MembershipChoice choice);

} // namespace dirsync::sync
