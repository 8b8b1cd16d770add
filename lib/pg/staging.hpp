// A full sync's staging in the PostgreSQL mirror (staging_runs, staged_*), with the semantics of
// the SQLite store's (lib/store/mirror_store.hpp, "staging"): each page of a listing is compared
// with the mirror as it arrives, what is new or changed is staged, mirrored rows the listing
// passed over are marked for deletion, and the position of the next page is saved in the same
// transaction, so that a sync resumes from its last complete page, on this host or on the
// standby that takes over. A page is a handful of set-based statements (its rows sent as
// arrays), not one per record.
#pragma once

#include "model/model.hpp"
#include "model/sync_options.hpp"
#include "pg/connection.hpp"
#include "store/mirror_writer.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dirsync::pg {

class Staging {
public:
    using Embedded = store::MirrorWriter::Embedded;
    using Owners = store::MirrorWriter::Owners;

    explicit Staging(Connection& db)
        : db_(db)
    {
    }

    // The run both full_sync_runs and staging_runs know; a half-made or stale one (a server
    // crash empties the UNLOGGED staging) is dropped.
    std::optional<store::StagingRun> load(std::string const& directory_id);
    void begin(std::string const& directory_id, Timestamp const& started_at);
    void discard(std::string const& directory_id);

    void stage_groups(std::string const& directory_id, std::span<Group const> groups,
                      std::span<std::string const> kept_ids, store::Progress const& next);
    void stage_users(std::string const& directory_id, std::span<User const> users,
                     std::span<std::string const> kept_ids, Embedded embedded,
                     store::Progress const& next, Owners owners = Owners::later);

    void begin_memberships(std::string const& directory_id, MembershipSource strategy);
    void stream_owners(std::string const& directory_id, MembershipSource strategy);
    std::vector<store::Owner> pending_owners(std::string const& directory_id,
                                             std::optional<std::string> const& after, int limit);
    void stage_members(std::string const& directory_id, MembershipSource strategy,
                       std::string const& owner, std::span<std::string const> member_ids,
                       std::optional<std::string> const& next);
    void finish_memberships(std::string const& directory_id);
    std::pair<std::int64_t, std::int64_t> owner_progress(std::string const& directory_id);
    store::MirrorWriter::PendingDeletions pending_deletions(std::string const& directory_id);

private:
    // Compares the page's ids (sorted, unique) with the directory's mirrored rows above `lo`
    // (to the page's last id, or to the end when `last`): marks those passed over, unmarks
    // those listed. Returns the new `lo`.
    std::string compare_ids(char const* entity, std::string const& directory_id,
                            std::vector<std::string> const& ids, std::string const& lo, bool last);
    // One owner's listed members (per_group: user ids; per_user: group ids) against the
    // mirror's: the difference staged. Returns the new `lo`.
    std::string compare_members(std::string const& directory_id, MembershipSource strategy,
                                std::string const& owner, std::vector<std::string> ids,
                                std::string const& lo, bool last);
    std::string listing_high(std::string const& directory_id);
    void save_position(std::string const& directory_id, store::Progress const& next,
                       std::optional<std::string> const& high, std::int64_t groups,
                       std::int64_t users);

    Connection& db_;
};

} // namespace dirsync::pg
