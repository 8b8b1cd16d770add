#include "sync/full_sync.hpp"

#include "store/database.hpp"
#include "sync/clock.hpp"

#include <SQLiteCpp/Exception.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace dirsync::sync {
namespace asio = boost::asio;

namespace {

// The directories in scope, as the API describes them now.
asio::awaitable<std::vector<Directory>> list_scope(SyncServices svc, Scope scope)
{
    std::vector<Directory> out;
    if (!scope.directories.empty()) {
        for (auto const& id : scope.directories) {
            if (auto d = co_await svc.api.get_directory(id))
                out.push_back(std::move(*d));
            else
                svc.log.warn("directory {} (listed in the config) does not exist upstream", id);
        }
        co_return out;
    }
    std::vector<std::optional<std::string>> orgs;
    if (scope.organizations.empty())
        orgs.emplace_back();
    for (auto const& o : scope.organizations)
        orgs.emplace_back(o);
    for (auto const& org : orgs) {
        std::optional<std::string> cursor;
        for (int pages = 1;; ++pages) {
            auto page = co_await svc.api.list_directories(org, cursor);
            for (auto const& r : page.rejected)
                // A directory we cannot read must not be mistaken for one that is gone.
                throw SyncError(fmt::format("GET /directories: record {} did not decode: {}",
                                            r.path, r.reason));
            for (auto& d : page.items)
                out.push_back(std::move(d));
            if (!page.after || page.items.empty())
                break;
            if (page.after == cursor)
                throw SyncError("GET /directories: the cursor did not advance; stopped");
            if (pages > 10000)
                throw SyncError("GET /directories: more than 10000 pages; stopped");
            cursor = std::move(page.after);
        }
    }
    // A directory can appear twice (duplicates across pages, or two orgs listed twice).
    std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.id < b.id; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](auto const& a, auto const& b) { return a.id == b.id; }),
              out.end());
    co_return out;
}

} // namespace

namespace {

// Syncs the directories with at most options.max_concurrent_directories at once. Workers take
// directories from a shared index; one io_context thread, so no lock.
asio::awaitable<void> sync_all(SyncServices svc, FullSyncOptions const& options,
                               std::vector<Directory> const& directories, FullSyncReport& report)
{
    std::size_t next = 0;
    auto worker = [&]() -> asio::awaitable<void> {
        while (next < directories.size()) {
            auto const& dir = directories[next++];
            std::string failure;
            bool auth = false;
            bool database = false;
            try {
                auto result = co_await sync_directory(svc, options.directory, dir);
                report.synced.push_back(dir.id);
                report.users += result.merge.user_count;
                report.groups += result.merge.group_count;
                report.memberships += result.merge.membership_count;
                continue;
            } catch (api::ApiError const& e) {
                failure = e.what();
                auth = e.is_auth_failure();
            } catch (api::TransportError const& e) {
                failure = e.what();
            } catch (SyncError const& e) {
                failure = e.what();
            } catch (SQLite::Exception const& e) {
                failure = fmt::format("database: {}", store::describe_database_error(e));
                database = true;
            }
            svc.log.error("directory {}: full sync failed: {}", dir.id, failure);
            report.failures.push_back({dir.id, failure, auth, database});
            try {
                svc.store.record_error(dir.id, failure, now_text());
            } catch (SQLite::Exception const& e) {
                svc.log.error("directory {}: could not record the failure: {}", dir.id, e.what());
            }
        }
    };

    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, worker(), asio::deferred));
    std::vector<Op> workers;
    auto const n =
        std::clamp<std::size_t>(static_cast<std::size_t>(options.max_concurrent_directories), 1,
                                std::max<std::size_t>(1, directories.size()));
    for (std::size_t i = 0; i < n; ++i)
        workers.push_back(asio::co_spawn(ex, worker(), asio::deferred));
    auto [order, errors] =
        co_await asio::experimental::make_parallel_group(std::move(workers))
            .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
    (void)order;
    for (auto const& e : errors)
        if (e)
            std::rethrow_exception(e);
    std::sort(report.synced.begin(), report.synced.end());
}

void remove_directory(SyncServices svc, std::string const& id, char const* why,
                      FullSyncReport& report)
{
    if (!svc.store.delete_directory(id, now_text()))
        return;
    svc.log.info("directory {}: {}; removed from the mirror with everything under it", id, why);
    report.removed.push_back(id);
}

} // namespace

asio::awaitable<FullSyncReport> run_full_sync(SyncServices svc, FullSyncOptions options)
{
    FullSyncReport report;
    auto const directories = co_await list_scope(svc, options.scope);
    svc.log.info("full sync: {} directories in scope", directories.size());

    // Directories mirrored but no longer listed are gone upstream (or left the scope).
    std::set<std::string> listed;
    for (auto const& d : directories)
        listed.insert(d.id);
    for (auto const& id : svc.store.directory_ids())
        if (!listed.count(id))
            remove_directory(svc, id, "gone upstream or out of scope", report);

    co_await sync_all(svc, options, directories, report);
    co_return report;
}

asio::awaitable<FullSyncReport> run_directory_syncs(SyncServices svc, FullSyncOptions options,
                                                    std::vector<std::string> directory_ids)
{
    FullSyncReport report;
    std::vector<Directory> directories;
    std::sort(directory_ids.begin(), directory_ids.end());
    directory_ids.erase(std::unique(directory_ids.begin(), directory_ids.end()),
                        directory_ids.end());
    for (auto const& id : directory_ids) {
        auto d = co_await svc.api.get_directory(id);
        if (!d) {
            remove_directory(svc, id, "gone upstream", report);
            continue;
        }
        if (!in_scope(options.scope, d->id, d->organization_id)) {
            svc.log.debug("directory {}: not in scope, not synced", id);
            continue;
        }
        directories.push_back(std::move(*d));
    }
    co_await sync_all(svc, options, directories, report);
    co_return report;
}

bool in_scope(Scope const& scope, std::string const& directory_id,
              std::optional<std::string> const& organization_id)
{
    if (!scope.directories.empty())
        return std::find(scope.directories.begin(), scope.directories.end(), directory_id) !=
               scope.directories.end();
    if (!scope.organizations.empty())
        return organization_id && std::find(scope.organizations.begin(), scope.organizations.end(),
                                            *organization_id) != scope.organizations.end();
    return true;
}

} // namespace dirsync::sync
