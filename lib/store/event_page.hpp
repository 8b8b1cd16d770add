// What applying a page of events means, whichever database holds the mirror (SQLite here,
// PostgreSQL in lib/pg): where each event goes, and the page's counts, notes and cursor. The
// stores do the writing; this file decides nothing about SQL.
#pragma once

#include "model/event.hpp"
#include "model/timestamp.hpp"

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dirsync::store {

struct StreamPosition {
    std::optional<std::string> cursor;            // id of the last applied event
    std::optional<std::string> cursor_created_at; // its created_at
    std::optional<std::string> range_start;       // where a stream without cursor starts
};

// Decides whether an event of this directory (and organization, when the payload has one) is in
// the configured scope.
using ScopeFilter =
    std::function<bool(std::string const& directory_id, std::optional<std::string> const& org)>;

struct EventPageResult {
    int applied = 0;     // changed the mirror
    int unchanged = 0;   // nothing new (duplicate, older than the stored row, no effect)
    int skipped = 0;     // out of scope, or of a directory not mirrored
    int quarantined = 0; // poison events stored in quarantined_events
    // Directories to (re)sync fully: dsync.activated/deactivated, or events of an in-scope
    // directory that is not mirrored yet.
    std::vector<std::string> directories_to_sync;
    std::vector<std::string> notes; // one line per quarantined or unknown-type event, for the log
    std::optional<std::string> cursor; // the cursor saved with this page
};

// Where an event of a directory lands: the live tables of a mirrored directory (`resync`: while
// its full sync is listing it), the staging of a directory whose first full sync is in progress,
// or nowhere.
enum class Target { live, resync, staging, none };

// What becomes of one item of a page.
enum class Route {
    apply,          // to the mirror (or to the staging of a directory in its first sync)
    sync_directory, // dsync.activated / deactivated: the caller (re)syncs the directory
    unknown_type,   // logged and skipped
    out_of_scope,   // not a directory the configuration mirrors
    not_mirrored,   // an in-scope directory not mirrored yet: the caller syncs it
    quarantine      // an event that could not be decoded
};

struct RoutedItem {
    Route route = Route::out_of_scope;
    Target target = Target::none;
};

// Routes every item of the page; `target_of` is asked once per directory.
std::vector<RoutedItem> route_page(std::span<EventPage::Item const> items,
                                   ScopeFilter const& in_scope,
                                   std::function<Target(std::string const&)> const& target_of);

// What a store does with the items of a page, in stream order.
struct PageWriter {
    std::function<void(RejectedEvent const&)> quarantine;
    // Applies the event, counting it as applied, unchanged or quarantined.
    std::function<void(Event const&, Target, EventPageResult&)> apply;
};

// When the newest applied events were made, for mirror_status: per directory (sync_state), and
// over all (daemon_status). A directory the page deleted has none: no sync_state row may
// bring it back into mirror_status.
struct EventTimes {
    std::map<std::string, Timestamp> per_directory;
    std::optional<Timestamp> latest;
};

struct WalkedPage {
    EventPageResult result;                       // cursor: the last item's id
    std::optional<std::string> cursor_created_at; // the last event's created_at
    EventTimes times;
};

// Walks the page in order: counts, notes, the directories to sync, the cursor; hands the
// quarantined items and the events to apply to `writer`. After a dsync.deleted, the
// directory's later events in the page are not applied (as if it had never been mirrored):
// they would bring its users back.
WalkedPage walk_page(std::span<EventPage::Item const> items, std::span<RoutedItem const> routes,
                     PageWriter const& writer);

} // namespace dirsync::store
