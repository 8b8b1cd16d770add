#include "sync/directory_sync.hpp"

#include "sync/listing.hpp"
#include "sync/membership_plan.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

namespace dirsync::sync {
namespace asio = boost::asio;
using store::MembershipPair;
using store::Phase;
using store::Progress;

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
using PageFetch = std::function<asio::awaitable<Page<T>>(std::optional<std::string>)>;

enum class Report { when_due, now };
enum class EmbeddedGroups { ignore, stage }; // the deprecated `groups` array of user objects

// The state of one directory's sync: counters, progress reporting, and the checks every page of
// its listings goes through.
class Run {
public:
    Run(SyncServices s, DirectorySyncOptions const& o, Directory const& d)
        : svc(s)
        , options(o)
        , dir(d)
        , started(Clock::now())
        , last_report(started)
    {
    }

    // Walks one listing of this directory; `store_page(page, kept_ids, next)` stores each page.
    template <class T, class Store>
    asio::awaitable<void> walk(std::string what, PageFetch<T> fetch,
                               std::optional<std::string> cursor, Store store_page)
    {
        auto sink = [this, &what, &store_page](Page<T>& page,
                                               std::optional<std::string> const& next) {
            ++requests;
            drop_foreign(what, page.items);
            auto const kept = kept_ids(what, page);
            store_page(page, kept, next);
            report_progress(Report::when_due);
        };
        auto const label = fmt::format("directory {}: {}", dir.id, what);
        co_await walk_pages<T>(label, std::move(fetch), std::move(cursor),
                               options.max_pages_per_listing, sink);
    }

    // Items of another directory in this directory's listing are bad data: drop them, loudly.
    template <class T>
    void drop_foreign(std::string const& what, std::vector<T>& items)
    {
        auto const foreign = std::remove_if(items.begin(), items.end(), [&](T const& item) {
            if (item.directory_id == dir.id)
                return false;
            if (++rejected <= 20)
                svc.log.warn("directory {}: {}: ignoring {} of directory {}", dir.id, what, item.id,
                             item.directory_id);
            return true;
        });
        items.erase(foreign, items.end());
    }

    // A directory that lists more users and groups than the cap is runaway data (or a cursor
    // loop the page cap has not caught yet): stop before staging the page, so nothing is merged.
    void check_object_cap(std::string const& what, std::size_t more) const
    {
        auto const listed = users + groups + static_cast<std::int64_t>(more);
        if (listed > options.max_objects_per_directory)
            throw SyncError(fmt::format("directory {}: {}: the directory lists more than {} users "
                                        "and groups (max_objects_per_directory); stopped, "
                                        "nothing deleted",
                                        dir.id, what, options.max_objects_per_directory));
    }

    // Records that could not be decoded: log them; keep the stored copy of those with an id.
    template <class T>
    std::vector<std::string> kept_ids(std::string const& what, Page<T> const& page)
    {
        std::vector<std::string> ids;
        for (auto const& r : page.rejected) {
            if (!r.id)
                throw SyncError(fmt::format("directory {}: {}: record {} has no usable id ({}); "
                                            "not merging a listing we cannot account for",
                                            dir.id, what, r.path, r.reason));
            if (++rejected <= 20)
                svc.log.warn("directory {}: {}: skipping undecodable record {}: {} (the stored "
                             "copy, if any, is kept)",
                             dir.id, what, r.path, r.reason);
            ids.push_back(*r.id);
        }
        return ids;
    }

    void report_progress(Report when)
    {
        if (svc.on_progress)
            svc.on_progress();
        auto const now = Clock::now();
        if (when == Report::when_due && now - last_report < options.progress_interval)
            return;
        last_report = now;
        double const secs = std::chrono::duration<double>(now - started).count();
        svc.log.info("directory {}: {} phase, {} groups, {} users, {} memberships staged; {} "
                     "requests in {:.1f} s ({:.1f} req/s)",
                     dir.id, phase, groups, users, memberships, requests, secs,
                     secs > 0 ? static_cast<double>(requests) / secs : 0.0);
    }

    SyncServices svc;
    DirectorySyncOptions const& options;
    Directory const& dir;
    Clock::time_point started;
    Clock::time_point last_report;
    char const* phase = "groups";
    std::uint64_t requests = 0;
    std::int64_t groups = 0, users = 0, memberships = 0, rejected = 0;
};

// Note on the shape of the walks below: GCC 12 double-frees a lambda with captures (or the
// std::function made from it) when it is created inside a co_await expression, so every callable
// and string handed to Run::walk is a named local first.

asio::awaitable<void> stage_groups(Run& run, std::optional<std::string> cursor)
{
    run.phase = "groups";
    auto& api = run.svc.api;
    auto const dir_id = run.dir.id;
    std::string what = "GET /directory_groups?directory=" + dir_id;
    PageFetch<Group> fetch = [&api, dir_id](std::optional<std::string> after) {
        return api.list_groups(api::GroupFilter::directory, dir_id, std::move(after));
    };
    auto store_page = [&run, &dir_id, &what](Page<Group> const& page, auto const& kept,
                                             auto const& next) {
        run.check_object_cap(what, page.items.size() + kept.size());
        Progress p = next ? Progress{Phase::groups, std::nullopt, next}
                          : Progress{Phase::users, std::nullopt, std::nullopt};
        run.svc.store.stage_groups(dir_id, page.items, kept, p);
        run.groups += static_cast<std::int64_t>(page.items.size() + kept.size());
    };
    co_await run.walk<Group>(what, std::move(fetch), std::move(cursor), store_page);
}

asio::awaitable<void> stage_users(Run& run, std::optional<std::string> cursor,
                                  EmbeddedGroups embedded)
{
    run.phase = "users";
    auto& api = run.svc.api;
    auto const dir_id = run.dir.id;
    std::string what = "GET /directory_users?directory=" + dir_id;
    PageFetch<User> fetch = [&api, dir_id](std::optional<std::string> after) {
        return api.list_users(api::UserFilter::directory, dir_id, dir_id, std::move(after));
    };
    auto store_page = [&run, &dir_id, &what, embedded](Page<User> const& page, auto const& kept,
                                                       auto const& next) {
        run.check_object_cap(what, page.items.size() + kept.size());
        std::vector<MembershipPair> pairs;
        if (embedded == EmbeddedGroups::stage)
            for (auto const& u : page.items)
                for (auto const& g : u.embedded_group_ids)
                    pairs.push_back({u.id, g});
        Progress p = next ? Progress{Phase::users, std::nullopt, next}
                          : Progress{Phase::memberships, std::nullopt, std::nullopt};
        run.svc.store.stage_users(dir_id, page.items, kept, pairs, p);
        run.users += static_cast<std::int64_t>(page.items.size() + kept.size());
        run.memberships += static_cast<std::int64_t>(pairs.size());
    };
    co_await run.walk<User>(what, std::move(fetch), std::move(cursor), store_page);
}

// Lists the members of every staged group (or the groups of every staged user), resuming at
// `progress`: owner set and cursor set = that owner is half done; owner set and no cursor = that
// owner is done.
asio::awaitable<void> stage_memberships(Run& run, MembershipSource strategy, Progress progress)
{
    run.phase = "memberships";
    auto& api = run.svc.api;
    auto& st = run.svc.store;
    auto const dir_id = run.dir.id;
    bool const per_group = strategy == MembershipSource::per_group;
    std::optional<std::string> from = progress.owner;
    // resume a half-listed owner at itself, a finished one after it
    auto start =
        progress.owner && progress.cursor ? store::StartAt::at_id : store::StartAt::after_id;
    std::optional<std::string> cursor = progress.cursor;

    for (;;) {
        auto const owners = per_group ? st.staged_group_ids(dir_id, from, start, 500)
                                      : st.staged_user_ids(dir_id, from, start, 500);
        if (owners.empty())
            break;
        for (auto const& owner : owners) {
            auto store_page = [&run, &st, &dir_id, &owner,
                               per_group](auto const& page, auto const& kept, auto const& next) {
                std::vector<MembershipPair> pairs;
                for (auto const& item : page.items)
                    pairs.push_back(per_group ? MembershipPair{item.id, owner}
                                              : MembershipPair{owner, item.id});
                for (auto const& id : kept)
                    pairs.push_back(per_group ? MembershipPair{id, owner}
                                              : MembershipPair{owner, id});
                st.stage_memberships(dir_id, pairs, Progress{Phase::memberships, owner, next});
                run.memberships += static_cast<std::int64_t>(pairs.size());
            };
            if (per_group) {
                std::string what = "GET /directory_users?group=" + owner;
                PageFetch<User> fetch = [&api, owner, dir_id](std::optional<std::string> after) {
                    return api.list_users(api::UserFilter::group, owner, dir_id, std::move(after));
                };
                co_await run.walk<User>(std::move(what), std::move(fetch), cursor, store_page);
            } else {
                std::string what = "GET /directory_groups?user=" + owner;
                PageFetch<Group> fetch = [&api, owner](std::optional<std::string> after) {
                    return api.list_groups(api::GroupFilter::user, owner, std::move(after));
                };
                co_await run.walk<Group>(std::move(what), std::move(fetch), cursor, store_page);
            }
            cursor.reset();
        }
        from = owners.back();
        start = store::StartAt::after_id;
    }
    st.set_progress(dir_id, Progress{Phase::done, std::nullopt, std::nullopt}, std::nullopt);
}

// Holds back a merge that would delete too much (a broken or half-configured IdP connection
// looks just like everyone leaving): throws HeldSync, keeping the staging for a later run.
void check_deletions(SyncServices& svc, DirectorySyncOptions const& options,
                     Directory const& directory)
{
    auto const& id = directory.id;
    auto const p = svc.store.pending_deletions(id);
    double const limit = options.max_delete_fraction;
    std::string reason;
    if (p.live_users > 0 && p.staged_users == 0)
        reason = fmt::format("the listing returned no users, and the mirror has {}", p.live_users);
    else if (p.live_users > 0 &&
             static_cast<double>(p.users) > limit * static_cast<double>(p.live_users))
        reason = fmt::format("it would delete {} of {} users (max_delete_fraction {})", p.users,
                             p.live_users, limit);
    else if (p.live_groups > 0 &&
             static_cast<double>(p.groups) > limit * static_cast<double>(p.live_groups))
        reason = fmt::format("it would delete {} of {} groups (max_delete_fraction {})", p.groups,
                             p.live_groups, limit);
    if (reason.empty())
        return;
    bool const allowed = std::find(options.allow_deletions.begin(), options.allow_deletions.end(),
                                   id) != options.allow_deletions.end();
    if (allowed) {
        svc.log.warn("directory {}: {}; allowed by --allow-deletions", id, reason);
        return;
    }
    auto const message =
        fmt::format("full sync held, nothing changed: {}; to apply it run dirsyncd --once "
                    "--allow-deletions {} (or raise max_delete_fraction and send SIGHUP)",
                    reason, id);
    svc.log.critical("directory {}: {}", id, message);
    svc.store.record_hold(id, message, now_text());
    throw HeldSync(fmt::format("directory {}: {}", id, message));
}

// The membership strategy of this sync: the one a resumed staging chose, the configured one, or
// the `auto` estimate from what was staged and the pace the API client keeps.
MembershipSource choose_strategy(Run& run, std::optional<MembershipSource> chosen,
                                 Concurrency concurrency)
{
    if (chosen)
        return *chosen;
    auto& st = run.svc.store;
    auto const& id = run.dir.id;
    auto const& limits = run.svc.api.rate_limits();
    auto const users = st.staged_user_count(id);
    auto const groups = st.staged_group_count(id);
    auto const plan = choose_membership_strategy(
        {users, groups, limits.directory_users_per_second,
         limits.global_per_second / std::max(1, concurrency.directories)});
    run.svc.log.info("directory {}: membership_source auto chose {} ({} users, {} groups; "
                     "estimated per_group {:.0f} s, per_user {:.0f} s)",
                     id, to_string(plan.strategy), users, groups, plan.per_group_seconds,
                     plan.per_user_seconds);
    return plan.strategy;
}

void log_summary(Run const& run, store::MergeResult const& m)
{
    run.svc.log.info(
        "directory {}: full sync done in {:.1f} s, {} requests; users {} ({} written, {} "
        "deleted), groups {} ({} written, {} deleted), memberships {} ({} added, {} removed){}",
        run.dir.id, std::chrono::duration<double>(Clock::now() - run.started).count(), run.requests,
        m.user_count, m.users.upserted, m.users.deleted, m.group_count, m.groups.upserted,
        m.groups.deleted, m.membership_count, m.memberships.upserted, m.memberships.deleted,
        run.rejected
            ? fmt::format("; {} records kept as stored because they did not decode", run.rejected)
            : "");
}

} // namespace

asio::awaitable<DirectorySyncResult> sync_directory(SyncServices svc, DirectorySyncOptions options,
                                                    Directory directory, Concurrency concurrency)
{
    Run run(svc, options, directory);
    auto& st = svc.store;
    auto const& id = directory.id;
    DirectorySyncResult result;

    auto const now = now_timestamp();
    auto staging = st.load_staging(id);
    auto const window_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options.resume_window).count();
    bool const strategy_fits = !staging || !staging->strategy ||
                               options.membership_source == MembershipSource::automatic ||
                               staging->strategy == to_string(options.membership_source);
    if (staging && now.micros - staging->started_at.micros <= window_us && strategy_fits) {
        result.resumed = true;
        svc.log.info("directory {}: resuming the full sync started at {} ({} phase)", id,
                     staging->started_at.text, store::phase_name(staging->progress.phase));
        // the object cap and the progress log count what is staged already
        run.groups = st.staged_group_count(id);
        run.users = st.staged_user_count(id);
    } else {
        st.begin_staging(id, now);
        staging = st.load_staging(id);
        svc.log.info("directory {} ({}): full sync started", id,
                     directory.name.value_or("unnamed"));
    }
    Progress progress = staging->progress;
    std::optional<MembershipSource> strategy;
    if (staging->strategy)
        strategy = parse_membership_source(*staging->strategy);
    if (!strategy && options.membership_source != MembershipSource::automatic)
        strategy = options.membership_source;

    if (progress.phase == Phase::groups) {
        co_await stage_groups(run, progress.cursor);
        progress = {Phase::users, std::nullopt, std::nullopt};
    }
    if (progress.phase == Phase::users) {
        co_await stage_users(run, progress.cursor,
                             strategy == MembershipSource::embedded ? EmbeddedGroups::stage
                                                                    : EmbeddedGroups::ignore);
        progress = {Phase::memberships, std::nullopt, std::nullopt};
    }
    result.strategy = choose_strategy(run, strategy, concurrency);
    if (progress.phase == Phase::memberships) {
        st.set_progress(id, progress, std::string(to_string(result.strategy)));
        if (result.strategy == MembershipSource::embedded)
            st.set_progress(id, Progress{Phase::done, std::nullopt, std::nullopt}, std::nullopt);
        else
            co_await stage_memberships(run, result.strategy, progress);
    }

    check_deletions(svc, options, directory);
    run.phase = "merge";
    run.report_progress(Report::now);
    result.requests = run.requests;
    result.merge =
        st.merge_directory(directory, {to_string(result.strategy), run.requests}, now_text());
    log_summary(run, result.merge);
    co_return result;
}

} // namespace dirsync::sync
