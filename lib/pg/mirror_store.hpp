// The MirrorWriter of the PostgreSQL mirror: the staging (pg/staging), the merge and directory
// removal (pg/merge), and the sync_state bookkeeping, on the writer's session. Single writer:
// the writer lease (pg/writer_lease) makes this session the only one that writes the schema.
#pragma once

#include "pg/connection.hpp"
#include "pg/staging.hpp"
#include "store/mirror_writer.hpp"

namespace dirsync::pg {

class MirrorStore final : public store::MirrorWriter {
public:
    // `db` has the mirror's schema on its search_path (migrate_schema or use_schema).
    explicit MirrorStore(Connection& db)
        : db_(db)
        , staging_(db)
    {
    }

    std::optional<store::StagingRun> load_staging(std::string const& directory_id) override
    {
        return staging_.load(directory_id);
    }
    void begin_staging(std::string const& directory_id, Timestamp const& started_at) override
    {
        staging_.begin(directory_id, started_at);
    }
    void discard_staging(std::string const& directory_id) override
    {
        staging_.discard(directory_id);
    }
    void stage_groups(std::string const& directory_id, std::span<Group const> groups,
                      std::span<std::string const> kept_ids, store::Progress const& next) override
    {
        staging_.stage_groups(directory_id, groups, kept_ids, next);
    }
    void stage_users(std::string const& directory_id, std::span<User const> users,
                     std::span<std::string const> kept_ids, Embedded embedded,
                     store::Progress const& next, Owners owners = Owners::later) override
    {
        staging_.stage_users(directory_id, users, kept_ids, embedded, next, owners);
    }
    void begin_memberships(std::string const& directory_id, MembershipSource strategy) override
    {
        staging_.begin_memberships(directory_id, strategy);
    }
    void stream_owners(std::string const& directory_id, MembershipSource strategy) override
    {
        staging_.stream_owners(directory_id, strategy);
    }
    std::vector<store::Owner> pending_owners(std::string const& directory_id,
                                             std::optional<std::string> const& after,
                                             int limit) override
    {
        return staging_.pending_owners(directory_id, after, limit);
    }
    void stage_members(std::string const& directory_id, MembershipSource strategy,
                       std::string const& owner, std::span<std::string const> member_ids,
                       std::optional<std::string> const& next) override
    {
        staging_.stage_members(directory_id, strategy, owner, member_ids, next);
    }
    void finish_memberships(std::string const& directory_id) override
    {
        staging_.finish_memberships(directory_id);
    }
    std::pair<std::int64_t, std::int64_t> owner_progress(std::string const& directory_id) override
    {
        return staging_.owner_progress(directory_id);
    }
    PendingDeletions pending_deletions(std::string const& directory_id) override
    {
        return staging_.pending_deletions(directory_id);
    }

    store::MergeResult merge_directory(Directory const& directory, store::SyncRecord const& record,
                                       std::string const& now) override;
    bool delete_directory(std::string const& directory_id, std::string const& now) override;
    std::vector<std::string> directory_ids() override;
    std::optional<MembershipPages> membership_pages(std::string const& directory_id) override;
    void record_hold(std::string const& directory_id, std::string const& reason,
                     std::string const& now) override;
    void record_error(std::string const& directory_id, std::string const& message,
                      std::string const& now) override;
    std::vector<store::DirectoryReport> directory_status() override;

private:
    Connection& db_;
    Staging staging_;
};

} // namespace dirsync::pg
