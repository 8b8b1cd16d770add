// The mirror's writes for full syncs: staging of a listing (staging.cpp), the atomic merge of a
// staged directory into the live tables and directory removal (merge.cpp, its SQL in
// merge_sql.cpp), and the sync_state bookkeeping (sync_state.cpp).
// Single writer: call from one thread; no method suspends, so a shutdown lands between calls.
#pragma once

#include "model/model.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace SQLite {
class Database;
}

namespace dirsync::store {

// Where a full sync of one directory stands; saved with every staged page so that an
// interrupted sync resumes from the last complete page.
enum class Phase { groups, users, memberships, done };
char const* phase_name(Phase p);

struct Progress {
    Phase phase = Phase::groups;
    std::optional<std::string> owner;  // memberships phase: the group or user being listed
    std::optional<std::string> cursor; // `after` of the next page to fetch
};

struct StagingRun {
    Timestamp started_at;
    Progress progress;
    std::optional<std::string> strategy;
};

// Where a listing of staged ids starts: after the given id, or at it.
enum class StartAt { after_id, at_id };

struct MembershipPair {
    std::string user_id;
    std::string group_id;
};

struct EntityCounts {
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
};

struct MergeResult {
    EntityCounts users, groups, memberships;
    bool directory_changed = false;
    std::int64_t user_count = 0, group_count = 0, membership_count = 0; // live, after the merge
};

// What the merge records in sync_state besides the counts.
struct SyncRecord {
    std::string strategy;
    std::uint64_t requests = 0;
};

class MirrorStore {
public:
    explicit MirrorStore(SQLite::Database& db);
    ~MirrorStore();
    MirrorStore(MirrorStore const&) = delete;
    MirrorStore& operator=(MirrorStore const&) = delete;

    // --- staging ---
    std::optional<StagingRun> load_staging(std::string const& directory_id);
    // Starts a new staging run for the directory, dropping whatever an older one left.
    void begin_staging(std::string const& directory_id, Timestamp const& started_at);
    // Each stages one page and records the position of the next one, in one transaction.
    // `kept_ids` are records that could not be decoded: the stored copies are kept as they are.
    void stage_groups(std::string const& directory_id, std::span<Group const> groups,
                      std::span<std::string const> kept_ids, Progress const& next);
    void stage_users(std::string const& directory_id, std::span<User const> users,
                     std::span<std::string const> kept_ids,
                     std::span<MembershipPair const> memberships, Progress const& next);
    void stage_memberships(std::string const& directory_id,
                           std::span<MembershipPair const> memberships, Progress const& next);
    void set_progress(std::string const& directory_id, Progress const& next,
                      std::optional<std::string> const& strategy);
    std::int64_t staged_user_count(std::string const& directory_id);
    std::int64_t staged_group_count(std::string const& directory_id);
    // Ids of the staged groups (or users) of the directory from `from` on (see StartAt; all when
    // `from` is empty), in id order, at most `limit` of them.
    std::vector<std::string> staged_group_ids(std::string const& directory_id,
                                              std::optional<std::string> const& from, StartAt start,
                                              int limit);
    std::vector<std::string> staged_user_ids(std::string const& directory_id,
                                             std::optional<std::string> const& from, StartAt start,
                                             int limit);

    // What a merge of the staged directory would delete: live users and groups not staged.
    struct PendingDeletions {
        std::int64_t live_users = 0, staged_users = 0, users = 0;
        std::int64_t live_groups = 0, groups = 0;
    };
    PendingDeletions pending_deletions(std::string const& directory_id);
    // Records that the directory's full sync was held back (the staging stays for later).
    void record_hold(std::string const& directory_id, std::string const& reason,
                     std::string const& now);

    // --- live tables ---
    // Merges the staged directory into the live tables in one transaction: readers see the
    // directory as it was or as it is now, never a mix. Rows that did not change are not
    // rewritten and get no `changes` row; objects not staged are deleted. Clears the staging.
    MergeResult merge_directory(Directory const& directory, SyncRecord const& record,
                                std::string const& now);
    // Deletes the directory and everything under it (and its staging) in one transaction,
    // recording every deletion in `changes`. Returns false when it was not mirrored.
    bool delete_directory(std::string const& directory_id, std::string const& now);
    std::vector<std::string> directory_ids();

    // One line of facts per directory known to sync_state or directories, for status reports.
    struct DirectoryStatus {
        std::string id;
        std::string name;
        std::int64_t users = 0, groups = 0, memberships = 0;
        std::optional<std::string> full_sync_finished_at, strategy, last_error, last_error_at;
        bool staging = false; // a full sync is in progress or was interrupted
    };
    std::vector<DirectoryStatus> directory_status();
    void record_error(std::string const& directory_id, std::string const& message,
                      std::string const& now);

private:
    struct Statements;
    SQLite::Database& db_;
    std::unique_ptr<Statements> st_;
};

} // namespace dirsync::store
