// What a full sync writes to the mirror, whichever database holds it: the staging of a listing,
// the atomic merge of a staged directory into the live tables, directory removal, and the
// sync_state bookkeeping. store::MirrorStore (SQLite, mirror_store.hpp) and pg::MirrorStore
// (PostgreSQL) implement it; lib/sync talks to this interface only.
//
// A listing is compared with the mirror as it arrives (ids come in ascending order; anything
// else is handled too): what is new or changed is staged, mirrored objects the listing passed
// over are marked for deletion, memberships are staged as a difference.
// Single writer: call from one thread; no method suspends, so a shutdown lands between calls.
#pragma once

#include "model/model.hpp"
#include "model/sync_options.hpp"
#include "store/merge_result.hpp"
#include "store/status_report.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dirsync::store {

// Where a full sync of one directory stands; saved with every staged page so that an
// interrupted sync resumes from the last complete page.
enum class Phase { groups, users, memberships, done };
char const* phase_name(Phase p);
// The phase of a stored name; groups (start over) for a name this build does not know.
Phase phase_from_name(std::string const& name);

// The position of the groups or users listing: the phase and the `after` of its next page.
struct Progress {
    Phase phase = Phase::groups;
    std::optional<std::string> cursor{};
};

struct StagingRun {
    std::string run_id;
    Timestamp started_at;
    Progress progress;
    std::optional<std::string> strategy;
    std::int64_t listed_groups = 0, listed_users = 0; // what the listings returned so far
};

// A group (per_group) or user (per_user) whose memberships are still to be listed, and the
// `after` of its next page (none: from the start).
struct Owner {
    std::string id;
    std::optional<std::string> cursor;
};

struct MembershipPair {
    std::string user_id;
    std::string group_id;
};

class MirrorWriter {
public:
    virtual ~MirrorWriter() = default;

    // --- staging ---
    // The run both the mirror and the staging know; a half-made or stale one is dropped.
    virtual std::optional<StagingRun> load_staging(std::string const& directory_id) = 0;
    // Starts a new run for the directory, dropping whatever an older one left.
    virtual void begin_staging(std::string const& directory_id, Timestamp const& started_at) = 0;
    // Drops the directory's run and everything it staged (a held sync keeps nothing).
    virtual void discard_staging(std::string const& directory_id) = 0;

    // One page of the groups or users listing, compared with the mirror and staged, with the
    // position of the next page, in one transaction. `kept_ids` are records that could not be
    // decoded: they count as listed and their stored copies are kept as they are. With
    // `embedded` (the deprecated `groups` arrays, legacy directories), the users' memberships
    // are staged from them as well.
    virtual void stage_groups(std::string const& directory_id, std::span<Group const> groups,
                              std::span<std::string const> kept_ids, Progress const& next) = 0;
    // With `Owners::from_page` (per_user memberships listed while the users listing still
    // runs), every user of the page becomes an owner of the membership phase in the same
    // transaction: stream_owners first.
    enum class Embedded { ignore, stage };
    enum class Owners { later, from_page };
    virtual void stage_users(std::string const& directory_id, std::span<User const> users,
                             std::span<std::string const> kept_ids, Embedded embedded,
                             Progress const& next, Owners owners = Owners::later) = 0;

    // The membership phase: the owners are every group (per_group) or user (per_user) the
    // listings found. Each page of an owner's listing is compared with the mirror and saved with
    // the owner's position, so that several owners are listed at once and each resumes.
    virtual void begin_memberships(std::string const& directory_id, MembershipSource strategy) = 0;
    // The other way in: the owners come with the users pages (stage_users, Owners::from_page),
    // so that a per_user directory lists memberships (on the global budget) while its users
    // listing (on the per-directory one) still runs. Records the strategy; begin_memberships is
    // then not called.
    virtual void stream_owners(std::string const& directory_id, MembershipSource strategy) = 0;
    virtual std::vector<Owner> pending_owners(std::string const& directory_id,
                                              std::optional<std::string> const& after,
                                              int limit) = 0;
    virtual void stage_members(std::string const& directory_id, MembershipSource strategy,
                               std::string const& owner, std::span<std::string const> member_ids,
                               std::optional<std::string> const& next) = 0;
    virtual void finish_memberships(std::string const& directory_id) = 0;
    // How many owners the membership phase has, and how many are done.
    virtual std::pair<std::int64_t, std::int64_t>
    owner_progress(std::string const& directory_id) = 0;

    // What a merge of the staged directory would delete.
    struct PendingDeletions {
        std::int64_t live_users = 0, listed_users = 0, users = 0;
        std::int64_t live_groups = 0, groups = 0;
    };
    virtual PendingDeletions pending_deletions(std::string const& directory_id) = 0;

    // --- live tables ---
    // Merges the staged directory into the live tables in one transaction: readers see the
    // directory as it was or as it is now, never a mix. Rows that did not change are not
    // rewritten and get no `changes` row; objects the listing passed over are deleted; what
    // events changed meanwhile is left alone. Clears the staging.
    virtual MergeResult merge_directory(Directory const& directory, SyncRecord const& record,
                                        std::string const& now) = 0;
    // Deletes the directory and everything under it (and its staging) in one transaction,
    // recording every deletion in `changes`. Returns false when it was not mirrored.
    virtual bool delete_directory(std::string const& directory_id, std::string const& now) = 0;
    virtual std::vector<std::string> directory_ids() = 0;
    // How the directory's memberships paged when it was last mirrored: the member pages of its
    // groups and the group pages of its users (pages of 100, at least one each). nullopt when it
    // is not mirrored.
    struct MembershipPages {
        std::int64_t users = 0, groups = 0;
        double per_group = 0, per_user = 0;
    };
    virtual std::optional<MembershipPages> membership_pages(std::string const& directory_id) = 0;

    // --- sync_state ---
    // Records that the directory's full sync was held back (its staging is dropped).
    virtual void record_hold(std::string const& directory_id, std::string const& reason,
                             std::string const& now) = 0;
    virtual void record_error(std::string const& directory_id, std::string const& message,
                              std::string const& now) = 0;
    // One line of facts per directory known to sync_state or directories, for status reports.
    virtual std::vector<DirectoryReport> directory_status() = 0;
};

} // namespace dirsync::store
