#include "sync/full_sync.hpp"

#include "sync/listing.hpp"
#include "sync/membership_plan.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>

namespace dirsync::sync {
namespace asio = boost::asio;

namespace {

// The directories of one organization (or of every one the key sees), as the API describes them
// now.
asio::awaitable<void> list_directories(SyncServices svc, std::optional<std::string> org,
                                       std::int64_t max_pages, std::vector<Directory>& out)
{
    std::function<asio::awaitable<Page<Directory>>(std::optional<std::string>)> fetch =
        [&api = svc.api, org](std::optional<std::string> after) {
            return api.list_directories(org, std::move(after));
        };
    auto sink = [&out](Page<Directory>& page, std::optional<std::string> const&) {
        for (auto const& r : page.rejected)
            // A directory we cannot read must not be mistaken for one that is gone.
            throw SyncError(
                fmt::format("GET /directories: record {} did not decode: {}", r.path, r.reason));
        for (auto& d : page.items)
            out.push_back(std::move(d));
    };
    co_await walk_pages<Directory>("GET /directories", std::move(fetch), std::nullopt, max_pages,
                                   sink);
}

// The directories in scope, as the API describes them now.
asio::awaitable<std::vector<Directory>> list_scope(SyncServices svc, FullSyncOptions options)
{
    std::vector<Directory> out;
    auto const& scope = options.scope;
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
    for (auto const& org : orgs)
        co_await list_directories(svc, org, options.directory.max_pages_per_listing, out);
    // A directory can appear twice (duplicates across pages, or two orgs listed twice).
    std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.id < b.id; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](auto const& a, auto const& b) { return a.id == b.id; }),
              out.end());
    co_return out;
}

// The directories left to sync, the membership strategy planned for each, and what became of
// those synced; shared by the workers (one io_context thread, so no lock).
struct SyncQueue {
    std::vector<Directory> const& directories;
    std::vector<MembershipChoice> choices;
    std::size_t next = 0;
    FullSyncReport& report;
};

// Plans the membership strategies of the directories together (membership_plan.hpp): from the
// counts their metadata gives and the pages their memberships took when last mirrored.
std::vector<MembershipChoice> plan_strategies(SyncServices& svc, FullSyncOptions const& options,
                                              std::vector<Directory> const& directories,
                                              int in_flight)
{
    auto const source = options.directory.membership_source;
    std::vector<MembershipChoice> choices(directories.size(), {std::nullopt, in_flight});
    if (source != MembershipSource::automatic || directories.empty())
        return choices;
    std::vector<DirectoryLoad> loads;
    std::vector<std::size_t> planned; // index into directories of each load
    for (std::size_t i = 0; i < directories.size(); ++i) {
        auto const& d = directories[i];
        DirectoryShape shape{d.user_count, d.group_count, std::nullopt, std::nullopt};
        if (auto history = svc.store.membership_pages(d.id)) {
            shape.users = shape.users.value_or(history->users);
            shape.groups = shape.groups.value_or(history->groups);
            // the history's shape, scaled to today's counts
            auto scale = [](std::int64_t now, std::int64_t then) {
                return then > 0 ? static_cast<double>(now) / static_cast<double>(then) : 1.0;
            };
            shape.per_group_pages = history->per_group * scale(*shape.groups, history->groups);
            shape.per_user_pages = history->per_user * scale(*shape.users, history->users);
        }
        if (auto load = estimate_load(shape, source)) {
            loads.push_back(*load);
            planned.push_back(i);
        }
    }
    if (loads.empty())
        return choices;
    auto const& pace = svc.api.rate_limits();
    auto const plan = plan_memberships(loads, pace);
    svc.log.info("full sync: membership plan for {} of {} directories: at least {:.0f} s at the "
                 "published limits (all per_group: {:.0f} s)",
                 loads.size(), directories.size(), plan.seconds,
                 plan_seconds(loads, std::vector(loads.size(), MembershipSource::per_group), pace));
    for (std::size_t k = 0; k < loads.size(); ++k) {
        auto const& d = directories[planned[k]];
        choices[planned[k]].planned = plan.strategies[k];
        svc.log.info("directory {}: membership_source auto chose {} ({} users, {} groups; {:.0f} "
                     "member pages per group or {:.0f} per user)",
                     d.id, to_string(plan.strategies[k]), loads[k].users_pages * 100,
                     loads[k].listing_pages - loads[k].users_pages, loads[k].per_group_pages,
                     loads[k].per_user_pages);
    }
    return choices;
}

// Takes directories from the queue until it is empty. A directory's failure is recorded and the
// worker goes on; a stop (or a failure no directory can be blamed for) ends it.
asio::awaitable<void> sync_worker(SyncServices svc, FullSyncOptions const& options,
                                  SyncQueue& queue)
{
    while (queue.next < queue.directories.size()) {
        auto const index = queue.next++;
        auto const& dir = queue.directories[index];
        std::exception_ptr error;
        try {
            auto result =
                co_await sync_directory(svc, options.directory, dir, queue.choices[index]);
            auto& report = queue.report;
            report.synced.push_back(dir.id);
            report.users += result.merge.user_count;
            report.groups += result.merge.group_count;
            report.memberships += result.merge.membership_count;
            if (result.would_hold)
                report.would_hold.emplace(dir.id, *result.would_hold);
            continue;
        } catch (...) {
            error = std::current_exception();
        }
        auto const failure = classify_failure(error);
        if (failure.kind == FailureKind::cancelled || failure.kind == FailureKind::other)
            std::rethrow_exception(error);
        svc.log.error("directory {}: full sync failed: {}", dir.id, failure.message);
        queue.report.failures.push_back({dir.id, failure.message, failure.kind});
        try {
            svc.store.record_error(dir.id, failure.message, now_text());
        } catch (std::exception const& e) {
            svc.log.error("directory {}: could not record the failure: {}", dir.id, e.what());
        }
    }
}

// Syncs the directories with at most options.max_concurrent_directories at once.
asio::awaitable<void> sync_all(SyncServices svc, FullSyncOptions const& options,
                               std::vector<Directory> const& directories, FullSyncReport& report)
{
    auto const n =
        std::clamp<std::size_t>(static_cast<std::size_t>(options.max_concurrent_directories), 1,
                                std::max<std::size_t>(1, directories.size()));
    SyncQueue queue{directories, plan_strategies(svc, options, directories, static_cast<int>(n)), 0,
                    report};
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, sync_worker(svc, options, queue), asio::deferred));
    std::vector<Op> workers;
    for (std::size_t i = 0; i < n; ++i)
        workers.push_back(asio::co_spawn(ex, sync_worker(svc, options, queue), asio::deferred));
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
    auto const directories = co_await list_scope(svc, options);
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
                                                    std::vector<std::string> directory_ids,
                                                    Named named)
{
    // only an operator's names are checked against the mirror (events name real directories)
    auto const mirrored =
        named == Named::by_operator ? svc.store.directory_ids() : std::vector<std::string>{};
    auto const is_mirrored = [&](std::string const& id) {
        return std::binary_search(mirrored.begin(), mirrored.end(), id);
    };
    FullSyncReport report;
    std::vector<Directory> directories;
    std::sort(directory_ids.begin(), directory_ids.end());
    directory_ids.erase(std::unique(directory_ids.begin(), directory_ids.end()),
                        directory_ids.end());
    for (auto const& id : directory_ids) {
        auto d = co_await svc.api.get_directory(id);
        if (!d && named == Named::by_operator && !is_mirrored(id)) {
            report.failures.push_back(
                {id,
                 "no such directory: the API key does not see it and the mirror does not "
                 "hold it",
                 FailureKind::sync});
            continue;
        }
        if (!d) {
            remove_directory(svc, id, "gone upstream", report);
            continue;
        }
        if (!in_scope(options.scope, d->id, d->organization_id)) {
            if (named == Named::by_operator)
                report.failures.push_back(
                    {id, "not in scope: the config's directories / organizations leave it out",
                     FailureKind::sync});
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
