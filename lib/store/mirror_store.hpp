// The MirrorWriter of the SQLite mirror: staging of a listing (staging.cpp, in the staging
// file), the atomic merge of a staged directory into the live tables and directory removal
// (merge.cpp, its SQL in merge_sql.cpp), and the sync_state bookkeeping (sync_state.cpp).
// A sync that finds nothing new stages nothing, and saves its position only every 64 pages
// (staging.cpp).
#pragma once

#include "store/mirror_writer.hpp"

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

class MirrorStore final : public MirrorWriter {
public:
    explicit MirrorStore(SQLite::Database& db);
    ~MirrorStore() override;
    MirrorStore(MirrorStore const&) = delete;
    MirrorStore& operator=(MirrorStore const&) = delete;

    std::optional<StagingRun> load_staging(std::string const& directory_id) override;
    void begin_staging(std::string const& directory_id, Timestamp const& started_at) override;
    void discard_staging(std::string const& directory_id) override;
    void stage_groups(std::string const& directory_id, std::span<Group const> groups,
                      std::span<std::string const> kept_ids, Progress const& next) override;
    void stage_users(std::string const& directory_id, std::span<User const> users,
                     std::span<std::string const> kept_ids, Embedded embedded, Progress const& next,
                     Owners owners = Owners::later) override;
    void begin_memberships(std::string const& directory_id, MembershipSource strategy) override;
    void stream_owners(std::string const& directory_id, MembershipSource strategy) override;
    std::vector<Owner> pending_owners(std::string const& directory_id,
                                      std::optional<std::string> const& after, int limit) override;
    void stage_members(std::string const& directory_id, MembershipSource strategy,
                       std::string const& owner, std::span<std::string const> member_ids,
                       std::optional<std::string> const& next) override;
    void finish_memberships(std::string const& directory_id) override;
    std::pair<std::int64_t, std::int64_t> owner_progress(std::string const& directory_id) override;
    PendingDeletions pending_deletions(std::string const& directory_id) override;
    MergeResult merge_directory(Directory const& directory, SyncRecord const& record,
                                std::string const& now) override;
    bool delete_directory(std::string const& directory_id, std::string const& now) override;
    std::vector<std::string> directory_ids() override;
    std::optional<MembershipPages> membership_pages(std::string const& directory_id) override;
    void record_hold(std::string const& directory_id, std::string const& reason,
                     std::string const& now) override;
    void record_error(std::string const& directory_id, std::string const& message,
                      std::string const& now) override;
    std::vector<DirectoryReport> directory_status() override;

private:
    struct Statements;
    SQLite::Database& db_;
    std::unique_ptr<Statements> st_;
};

} // namespace dirsync::store
