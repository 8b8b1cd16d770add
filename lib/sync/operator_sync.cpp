#include "sync/operator_sync.hpp"

#include "model/timestamp.hpp"

#include <spdlog/spdlog.h>

namespace dirsync::sync {
namespace asio = boost::asio;

char const* operator_action_name(OperatorAction a)
{
    switch (a) {
    case OperatorAction::resync:
        return "resync";
    case OperatorAction::evict:
        return "evict";
    case OperatorAction::allow_deletions:
        return "allow-deletions";
    }
    return "?";
}

std::optional<OperatorAction> parse_operator_action(std::string_view name)
{
    for (auto a : {OperatorAction::resync, OperatorAction::evict, OperatorAction::allow_deletions})
        if (name == operator_action_name(a))
            return a;
    return std::nullopt;
}

asio::awaitable<FullSyncReport> run_operator_request(SyncServices svc, FullSyncOptions options,
                                                     OperatorRequest request)
{
    auto const& ids = request.directories;
    switch (request.action) {
    case OperatorAction::resync:
        if (ids.empty())
            co_return co_await run_full_sync(svc, std::move(options));
        break;
    case OperatorAction::evict:
        for (auto const& id : ids) {
            // one transaction: readers see the directory, then none; the sync brings it back
            if (svc.store.delete_directory(id, now_text()))
                svc.log.warn("directory {}: evicted by an operator: its rows are deleted "
                             "(recorded in changes); syncing it again from scratch",
                             id);
            else
                svc.log.info("directory {}: evict: not in the mirror; syncing it", id);
        }
        break;
    case OperatorAction::allow_deletions:
        for (auto const& id : ids) {
            // a fresh listing, never a staged snapshot: what is released is what upstream says now
            svc.store.discard_staging(id);
            options.directory.allow_deletions.push_back(id);
            svc.log.warn("directory {}: allow-deletions: the full sync started now applies its "
                         "deletions even past max_delete_fraction, once",
                         id);
        }
        break;
    }
    co_return co_await run_directory_syncs(svc, std::move(options), ids, Named::by_operator);
}

} // namespace dirsync::sync
