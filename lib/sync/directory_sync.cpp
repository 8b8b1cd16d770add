#include "sync/directory_sync.hpp"

#include "sync/listing.hpp"
#include "sync/membership_plan.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>

namespace dirsync::sync {
namespace asio = boost::asio;
using store::Phase;
using store::Progress;

namespace {

using Clock = std::chrono::steady_clock;

template <class T>
using PageFetch = std::function<asio::awaitable<Page<T>>(std::optional<std::string>)>;

enum class Report { when_due, now };

// How many owners of one directory have their memberships listed at once: enough to keep the
// per-directory pace (per_group) or a share of the global one (per_user) busy through the
// latency of each request.
constexpr std::size_t walks_per_group_directory = 4;
constexpr std::size_t walks_per_user_directory = 8;

std::string const* directory_of(User const& u)
{
    return &u.directory_id;
}
std::string const* directory_of(Group const& g)
{
    return &g.directory_id;
}
std::string const* directory_of(MemberRef const& m)
{
    return m.directory_id ? &*m.directory_id : nullptr;
}

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
            auto const* of = directory_of(item);
            if (of == nullptr || *of == dir.id)
                return false;
            if (++rejected <= 20)
                svc.log.warn("directory {}: {}: ignoring {} of directory {}", dir.id, what, item.id,
                             *of);
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
        svc.log.info("directory {}: {} phase{}; {} groups, {} users, {} memberships listed; {} "
                     "requests in {:.1f} s ({:.1f} req/s)",
                     dir.id, phase, phase_progress(now), groups, users, memberships, requests, secs,
                     secs > 0 ? static_cast<double>(requests) / secs : 0.0);
    }

    void enter(char const* next_phase)
    {
        phase = next_phase;
        phase_started = Clock::now();
    }

    // " 120 of 400 users (30 %), about 25 s left": what the phase has done of what it will do
    // (the directory's counts, or the membership owners), and the time left at its pace so far.
    std::string phase_progress(Clock::time_point now)
    {
        std::int64_t done = 0, total = 0;
        char const* unit = "";
        if (std::string_view(phase) == "groups" && dir.group_count)
            done = groups, total = *dir.group_count, unit = "groups";
        else if (std::string_view(phase) == "users" && dir.user_count)
            done = users, total = *dir.user_count, unit = "users";
        else if (std::string_view(phase) == "memberships") {
            auto const [owners, finished] = svc.store.owner_progress(dir.id);
            done = finished, total = owners, unit = "owners";
        }
        if (total <= 0)
            return "";
        double const f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
        double const secs = std::chrono::duration<double>(now - phase_started).count();
        std::string left = "time left unknown";
        if (f > 0)
            left = fmt::format("about {:.0f} s left", secs * (1 - f) / f);
        return fmt::format(" {} of {} {} ({:.0f} %), {}", done, total, unit, 100 * f, left);
    }

    SyncServices svc;
    DirectorySyncOptions const& options;
    Directory const& dir;
    Clock::time_point started;
    Clock::time_point last_report;
    Clock::time_point phase_started = Clock::now();
    char const* phase = "groups";
    std::uint64_t requests = 0;
    std::int64_t groups = 0, users = 0, memberships = 0, rejected = 0;
};

// Note on the shape of the walks below: GCC 12 double-frees a lambda with captures (or the
// std::function made from it) when it is created inside a co_await expression, so every callable
// and string handed to Run::walk is a named local first.

asio::awaitable<void> stage_groups(Run& run, std::optional<std::string> cursor)
{
    run.enter("groups");
    auto& api = run.svc.api;
    auto const dir_id = run.dir.id;
    std::string what = "GET /directory_groups?directory=" + dir_id;
    PageFetch<Group> fetch = [&api, dir_id](std::optional<std::string> after) {
        return api.list_groups(api::GroupFilter::directory, dir_id, std::move(after));
    };
    auto store_page = [&run, &dir_id, &what](Page<Group> const& page, auto const& kept,
                                             auto const& next) {
        run.check_object_cap(what, page.items.size() + kept.size());
        run.svc.store.stage_groups(dir_id, page.items, kept,
                                   next ? Progress{Phase::groups, next} : Progress{Phase::users});
        run.groups += static_cast<std::int64_t>(page.items.size() + kept.size());
    };
    co_await run.walk<Group>(what, std::move(fetch), std::move(cursor), store_page);
}

asio::awaitable<void>
stage_users(Run& run, std::optional<std::string> cursor, store::MirrorWriter::Embedded embedded,
            store::MirrorWriter::Owners owners = store::MirrorWriter::Owners::later,
            std::function<void()> after_page = {})
{
    run.enter("users");
    auto& api = run.svc.api;
    auto const dir_id = run.dir.id;
    std::string what = "GET /directory_users?directory=" + dir_id;
    PageFetch<User> fetch = [&api, dir_id](std::optional<std::string> after) {
        return api.list_users(api::UserFilter::directory, dir_id, dir_id, std::move(after));
    };
    auto store_page = [&run, &dir_id, &what, embedded, owners,
                       &after_page](Page<User> const& page, auto const& kept, auto const& next) {
        run.check_object_cap(what, page.items.size() + kept.size());
        run.svc.store.stage_users(
            dir_id, page.items, kept, embedded,
            next ? Progress{Phase::users, next} : Progress{Phase::memberships}, owners);
        if (after_page)
            after_page();
        run.users += static_cast<std::int64_t>(page.items.size() + kept.size());
        if (embedded == store::MirrorWriter::Embedded::stage)
            for (auto const& u : page.items)
                run.memberships += static_cast<std::int64_t>(u.embedded_group_ids.size());
    };
    co_await run.walk<User>(what, std::move(fetch), std::move(cursor), store_page);
}

// The owners whose memberships are still to be listed, handed out in id order to the walks of
// one directory (one io_context thread: no lock). Owners can be added while the walks run (the
// users pages of a streamed per_user run): `more` wakes the walks that found none, and a walk
// that finds none once the supply is closed looks again from the start before it ends.
class OwnerQueue {
public:
    OwnerQueue(store::MirrorWriter& store, std::string directory_id, asio::any_io_executor ex,
               bool open)
        : more(ex, asio::steady_timer::time_point::max())
        , open_(open)
        , store_(store)
        , directory_id_(std::move(directory_id))
    {
    }
    std::optional<store::Owner> next()
    {
        if (buffer_.empty())
            refill();
        if (buffer_.empty() && !open_ && last_) { // from the start: an owner added out of order
            last_.reset();
            refill();
        }
        if (buffer_.empty())
            return std::nullopt;
        auto owner = std::move(buffer_.back());
        buffer_.pop_back();
        last_ = owner.id;
        taken_.insert(owner.id);
        return owner;
    }
    // A walked owner is done in the staging file, where pending_owners no longer finds it: only
    // the owners being walked are kept out by hand (a set of all, at a million users, was most
    // of the daemon's memory).
    void finished(std::string const& id) { taken_.erase(id); }
    bool open() const { return open_; }
    void added() { more.cancel(); } // wakes the walks waiting for owners
    void close()
    {
        open_ = false;
        more.cancel();
    }
    asio::steady_timer more; // never expires: cancel() is the signal

private:
    void refill()
    {
        for (auto& o : store_.pending_owners(directory_id_, last_, 256))
            if (!taken_.contains(o.id))
                buffer_.push_back(std::move(o));
        std::reverse(buffer_.begin(), buffer_.end());
    }

    bool open_;
    store::MirrorWriter& store_;
    std::string directory_id_;
    std::optional<std::string> last_;
    std::vector<store::Owner> buffer_;
    std::set<std::string> taken_; // handed out and being walked
};

// Lists the memberships of one owner from its stored position on.
asio::awaitable<void> list_owner(Run& run, MembershipSource strategy, store::Owner owner)
{
    auto& api = run.svc.api;
    auto const dir_id = run.dir.id;
    bool const per_group = strategy == MembershipSource::per_group;
    std::string what =
        (per_group ? "GET /directory_users?group=" : "GET /directory_groups?user=") + owner.id;
    PageFetch<MemberRef> fetch = [&api, per_group, dir_id,
                                  id = owner.id](std::optional<std::string> after) {
        return per_group ? api.list_group_members(id, dir_id, std::move(after))
                         : api.list_user_groups(id, std::move(after));
    };
    auto store_page = [&run, &dir_id, &owner, strategy](Page<MemberRef> const& page,
                                                        auto const& kept, auto const& next) {
        std::vector<std::string> ids(kept.begin(), kept.end());
        for (auto const& m : page.items)
            ids.push_back(m.id);
        run.svc.store.stage_members(dir_id, strategy, owner.id, ids, next);
        run.memberships += static_cast<std::int64_t>(ids.size());
    };
    co_await run.walk<MemberRef>(std::move(what), std::move(fetch), owner.cursor, store_page);
}

asio::awaitable<void> owner_walks(Run& run, MembershipSource strategy, OwnerQueue& queue)
{
    for (;;) {
        if (auto owner = queue.next()) {
            auto const id = owner->id;
            co_await list_owner(run, strategy, std::move(*owner));
            queue.finished(id);
            continue;
        }
        if (!queue.open())
            break;
        boost::system::error_code woken; // by the supply, or cancelled with the whole sync
        co_await queue.more.async_wait(asio::redirect_error(asio::use_awaitable, woken));
        auto const cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
        if (cancelled != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
    }
}

// Runs `first` (when given) and `n` owner walks at once; the first to fail cancels the others
// and its error is the one thrown.
asio::awaitable<void> run_walks(Run& run, MembershipSource strategy, OwnerQueue& queue,
                                std::size_t n, std::optional<asio::awaitable<void>> first)
{
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, owner_walks(run, strategy, queue), asio::deferred));
    std::vector<Op> walks;
    if (first)
        walks.push_back(asio::co_spawn(ex, std::move(*first), asio::deferred));
    for (std::size_t i = 0; i < n; ++i)
        walks.push_back(asio::co_spawn(ex, owner_walks(run, strategy, queue), asio::deferred));
    auto [order, errors] =
        co_await asio::experimental::make_parallel_group(std::move(walks))
            .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
    // the walk that failed first says why; the others were cancelled because of it
    for (auto i : order)
        if (errors[i])
            std::rethrow_exception(errors[i]);
}

// Lists the memberships of every group (or of every user) the listings found, several at once;
// each owner resumes from its own last stored page.
asio::awaitable<void> stage_memberships(Run& run, MembershipSource strategy, bool resumed)
{
    run.enter("memberships");
    auto& st = run.svc.store;
    auto const& dir_id = run.dir.id;
    if (!resumed)
        st.begin_memberships(dir_id, strategy);
    OwnerQueue queue(st, dir_id, co_await asio::this_coro::executor, false);
    auto const n = strategy == MembershipSource::per_group ? walks_per_group_directory
                                                           : walks_per_user_directory;
    co_await run_walks(run, strategy, queue, n, std::nullopt);
    st.finish_memberships(dir_id);
}

asio::awaitable<void> list_users_as_owners(Run& run, std::optional<std::string> cursor,
                                           OwnerQueue& queue)
{
    std::function<void()> added = [&queue] { queue.added(); };
    co_await stage_users(run, std::move(cursor), store::MirrorWriter::Embedded::ignore,
                         store::MirrorWriter::Owners::from_page, added);
    run.enter("memberships");
    queue.close();
}

// per_user, streamed: the users listing (paced by the per-directory limit) and the walks of the
// users it has listed so far (on the global budget only) at once, so that a large directory's
// membership requests start with its first users page instead of after its last.
asio::awaitable<void> stage_users_and_memberships(Run& run, std::optional<std::string> cursor,
                                                  bool resumed)
{
    auto& st = run.svc.store;
    auto const& dir_id = run.dir.id;
    if (!resumed)
        st.stream_owners(dir_id, MembershipSource::per_user);
    run.enter("users");
    OwnerQueue queue(st, dir_id, co_await asio::this_coro::executor, true);
    auto listing = list_users_as_owners(run, std::move(cursor), queue);
    co_await run_walks(run, MembershipSource::per_user, queue, walks_per_user_directory,
                       std::move(listing));
    st.finish_memberships(dir_id);
}

// Holds back a merge that would delete too much (a broken or half-configured IdP connection
// looks just like everyone leaving): records why, drops the staging (the next run lists the
// directory again) and throws HeldSync. A dry run (merge_held) returns the reason instead.
std::optional<std::string> check_deletions(SyncServices& svc, DirectorySyncOptions const& options,
                                           Directory const& directory)
{
    auto const& id = directory.id;
    auto const p = svc.store.pending_deletions(id);
    double const limit = options.max_delete_fraction;
    std::string reason;
    if (p.live_users > 0 && p.listed_users == 0)
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
        return std::nullopt;
    if (options.merge_held)
        return reason;
    bool const allowed = std::find(options.allow_deletions.begin(), options.allow_deletions.end(),
                                   id) != options.allow_deletions.end();
    if (allowed) {
        svc.log.warn("directory {}: {}; allowed by --allow-deletions", id, reason);
        return std::nullopt;
    }
    auto const message =
        fmt::format("full sync held, nothing changed: {}; to apply it run dirsyncd "
                    "allow-deletions {} (or raise max_delete_fraction and reload)",
                    reason, id);
    svc.log.critical("directory {}: {}", id, message);
    svc.store.discard_staging(id);
    svc.store.record_hold(id, message, now_text());
    throw HeldSync(fmt::format("directory {}: {}", id, message));
}

// The membership strategy of this sync: the one a resumed staging chose, the configured one, the
// full sync's plan, or, unplanned, the `auto` estimate from what was listed.
MembershipSource choose_strategy(Run& run, std::optional<MembershipSource> chosen,
                                 MembershipChoice const& choice)
{
    if (chosen)
        return *chosen;
    if (choice.planned)
        return *choice.planned;
    auto const& id = run.dir.id;
    auto pace = run.svc.api.rate_limits();
    pace.global_per_second /= std::max(1, choice.directories_in_flight);
    auto const load = estimate_load({run.users, run.groups, std::nullopt, std::nullopt},
                                    MembershipSource::automatic);
    auto const plan = plan_memberships({*load}, pace);
    run.svc.log.info("directory {}: membership_source auto chose {} ({} users, {} groups; "
                     "estimated {:.0f} s with a 1/{} share of the global pace)",
                     id, to_string(plan.strategies[0]), run.users, run.groups, plan.seconds,
                     std::max(1, choice.directories_in_flight));
    return plan.strategies[0];
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
                                                    Directory directory, MembershipChoice choice)
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
        // the object cap and the progress log count what is listed already
        run.groups = staging->listed_groups;
        run.users = staging->listed_users;
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
        progress = {Phase::users};
    }
    // A strategy known before the users are listed (configured, resumed, or the full sync's
    // plan) lets a per_user run list memberships while it lists users.
    // Streamed only from the first users page on: a run that staged users pages without owners
    // (it started unplanned) lists its memberships after the users, as it began.
    auto const known = strategy ? strategy : choice.planned;
    bool const streaming = progress.phase == Phase::users && staging->strategy.has_value();
    if (progress.phase == Phase::users && known == MembershipSource::per_user &&
        (streaming || !progress.cursor)) {
        result.strategy = MembershipSource::per_user;
        co_await stage_users_and_memberships(run, progress.cursor, streaming);
        progress = {Phase::done};
    }
    if (progress.phase == Phase::users) {
        co_await stage_users(run, progress.cursor,
                             strategy == MembershipSource::embedded
                                 ? store::MirrorWriter::Embedded::stage
                                 : store::MirrorWriter::Embedded::ignore);
        progress = {Phase::memberships};
    }
    result.strategy = choose_strategy(run, strategy, choice);
    if (progress.phase == Phase::memberships) {
        if (result.strategy == MembershipSource::embedded) // staged with the users
            st.finish_memberships(id);
        else
            co_await stage_memberships(run, result.strategy,
                                       result.resumed && staging->strategy.has_value());
    }

    result.would_hold = check_deletions(svc, options, directory);
    run.enter("merge");
    run.report_progress(Report::now);
    result.requests = run.requests;
    result.merge =
        st.merge_directory(directory, {to_string(result.strategy), run.requests}, now_text());
    log_summary(run, result.merge);
    co_return result;
}

} // namespace dirsync::sync
