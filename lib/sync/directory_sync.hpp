// Full sync of one directory (spec section 8.1): groups, users and memberships land page by page
// in staging, then one transaction merges them into the live tables.
#pragma once

#include "api/api_client.hpp"
#include "model/model.hpp"
#include "store/mirror_store.hpp"
#include "sync/membership_plan.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace dirsync::sync {

struct DirectorySyncOptions {
    MembershipSource membership_source = MembershipSource::automatic;
    double directory_users_per_second = 3.5; // for the `auto` estimate
    double global_per_second_share = 50.0;   // for the `auto` estimate
    // A staging run younger than this is resumed from its last page; an older one starts over.
    std::chrono::seconds resume_window{std::chrono::hours(1)};
    // Ends a runaway listing (a cursor that keeps producing pages) with an error.
    std::int64_t max_pages_per_listing = 100000;
    // Ends a runaway directory (users plus groups listed) with an error; nothing is merged.
    std::int64_t max_objects_per_directory = 2000000;
    std::chrono::seconds progress_interval{10}; // how often a long sync logs progress
    // A full sync that would delete more than this fraction of a directory's users or groups,
    // or that lists no user for a directory that had some, is held back (nothing merged) unless
    // the directory is in `allow_deletions`.
    double max_delete_fraction = 0.25;
    std::vector<std::string> allow_deletions;
};

struct DirectorySyncResult {
    store::MergeResult merge;
    MembershipSource strategy = MembershipSource::per_group;
    std::uint64_t requests = 0; // pages fetched by this sync (retries not counted)
    bool resumed = false;
};

// Services the sync works with; owned by the caller and shared by concurrent directory syncs.
struct SyncServices {
    api::ApiClient& api;
    store::MirrorStore& store;
    spdlog::logger& log;
    std::function<void()> on_progress{}; // called after every stored page (systemd, watchdog)
};

// Throws ApiError / TransportError / SQLite::Exception / SyncError; the staging keeps every page
// stored so far, and the next attempt within the resume window continues from there.
boost::asio::awaitable<DirectorySyncResult>
sync_directory(SyncServices services, DirectorySyncOptions options, Directory directory);

class SyncError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The full sync was listed completely but held back before the merge: it would delete too much.
class HeldSync : public SyncError {
public:
    using SyncError::SyncError;
};

} // namespace dirsync::sync
