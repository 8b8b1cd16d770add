// What a full sync mirrors and how: scope, membership strategy, limits, holds; and how the event
// stream is followed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dirsync {

// How memberships are read: the API offers a walk per group and a walk per user
// (https://workos.com/docs/reference/directory-sync).
enum class MembershipSource {
    automatic, // estimate per directory which of per_group / per_user finishes sooner
    per_group, // GET /directory_users?group=<id> for every group
    per_user,  // GET /directory_groups?user=<id> for every user
    embedded,  // the deprecated `groups` array on user objects (legacy environments only)
};
std::optional<MembershipSource> parse_membership_source(std::string_view text);
char const* to_string(MembershipSource source); // "auto", "per_group", ...

// Which directories are mirrored: those listed in `directories`, else those of the
// `organizations`, else every directory the API key sees.
struct Scope {
    std::vector<std::string> organizations;
    std::vector<std::string> directories;
};

struct DirectorySyncOptions {
    MembershipSource membership_source = MembershipSource::automatic;
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
    // Dry runs only (they merge into a scratch copy): a sync that would be held is merged
    // anyway, and why it would have been held goes to its result.
    bool merge_held = false;
};

struct FullSyncOptions {
    Scope scope;
    int max_concurrent_directories = 64; // the limits set the pace, not this cap
    DirectorySyncOptions directory;
};

struct EventSyncOptions {
    std::vector<std::string> event_types; // empty: default_event_types
    // An older cursor is not trusted: WorkOS keeps events for 30 days.
    std::chrono::hours retention{24 * 30};
    int max_pages_per_poll = 1000; // a poll returns after this many full pages
};

} // namespace dirsync
