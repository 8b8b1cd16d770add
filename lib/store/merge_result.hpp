// What the merge of a staged directory did, whichever database holds the mirror (MirrorStore for
// SQLite, pg::merge_directory for PostgreSQL).
#pragma once

#include <cstdint>
#include <string>

namespace dirsync::store {

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

} // namespace dirsync::store
