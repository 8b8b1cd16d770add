#include "sync/event_sync.hpp"

#include "sync/full_sync.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace dirsync::sync {
namespace asio = boost::asio;

api::EventsQuery events_query(EventSyncOptions const& options, Scope const& scope,
                              store::StreamPosition const& position)
{
    api::EventsQuery q;
    q.types = options.event_types;
    if (q.types.empty())
        q.types.assign(std::begin(default_event_types), std::end(default_event_types));
    q.after = position.cursor;
    if (!q.after)
        q.range_start = position.range_start;
    // One organization: let the server filter. Several: filter here (in_scope).
    if (scope.directories.empty() && scope.organizations.size() == 1)
        q.organization_id = scope.organizations.front();
    return q;
}

namespace {

// A stored cursor older than the retention would be refused or, worse, silently skip events.
std::optional<std::string> expired(EventSyncOptions const& options,
                                   store::StreamPosition const& position)
{
    if (!position.cursor || !position.cursor_created_at)
        return std::nullopt;
    auto const at = parse_timestamp(*position.cursor_created_at);
    auto const retention_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options.retention).count();
    if (!at || now_micros() - *at <= retention_us)
        return std::nullopt;
    return fmt::format("the cursor {} ({}) is older than the {} day event retention",
                       *position.cursor, *position.cursor_created_at,
                       options.retention.count() / 24);
}

void add(store::EventPageResult& total, store::EventPageResult const& page)
{
    total.applied += page.applied;
    total.unchanged += page.unchanged;
    total.skipped += page.skipped;
    total.quarantined += page.quarantined;
    total.directories_to_sync.insert(total.directories_to_sync.end(),
                                     page.directories_to_sync.begin(),
                                     page.directories_to_sync.end());
    if (page.cursor)
        total.cursor = page.cursor;
}

} // namespace

std::optional<std::string> out_of_order(EventPage const& page,
                                        std::optional<std::string> const& cursor)
{
    auto previous = cursor;
    for (auto const& item : page.items) {
        auto const* ev = std::get_if<Event>(&item);
        auto const* bad = std::get_if<RejectedEvent>(&item);
        std::optional<std::string> const id = ev ? std::optional(ev->id) : bad->id;
        if (!id)
            continue;
        if (previous && *id <= *previous)
            return fmt::format("GET /events returned event {} after {}: the stream went "
                               "backwards (ids must ascend with order=asc); the page was not "
                               "applied",
                               *id, *previous);
        previous = id;
    }
    return std::nullopt;
}

asio::awaitable<PollResult> poll_events(api::ApiClient& api, store::EventWriter& events,
                                        spdlog::logger& log, EventSyncOptions options, Scope scope)
{
    PollResult result;
    auto position = events.load_position().value_or(store::StreamPosition{});
    if (auto why = expired(options, position)) {
        result.cursor_expired = true;
        result.expiry_reason = std::move(*why);
        co_return result;
    }
    auto const filter = [&scope](std::string const& dir, std::optional<std::string> const& org) {
        return in_scope(scope, dir, org);
    };

    for (;;) {
        EventPage page;
        try {
            page = co_await api.list_events(events_query(options, scope, position));
        } catch (api::ApiError const& e) {
            // A cursor the server no longer knows (out of retention, or never valid).
            bool const cursor_problem =
                position.cursor && (e.status() == 400 || e.status() == 404 || e.status() == 422);
            if (!cursor_problem)
                throw;
            result.cursor_expired = true;
            result.expiry_reason =
                fmt::format("the server rejected the cursor {}: {}", *position.cursor, e.what());
            co_return result;
        }
        ++result.pages;
        if (page.items.empty()) {
            result.caught_up = true;
            co_return result;
        }
        if (auto backwards = out_of_order(page, position.cursor)) {
            result.out_of_order = std::move(backwards);
            co_return result; // nothing of the page is applied
        }
        auto const applied = events.apply_page(page.items, filter, now_text());
        for (auto const& note : applied.notes)
            log.warn("events: {}", note);
        add(result.totals, applied);
        log.debug("events: page of {} applied ({} changed, {} unchanged, {} skipped, {} "
                  "quarantined), cursor {}",
                  page.items.size(), applied.applied, applied.unchanged, applied.skipped,
                  applied.quarantined, applied.cursor.value_or("-"));
        result.caught_up = page.items.size() < page_size;
        if (result.caught_up || result.pages >= options.max_pages_per_poll)
            co_return result;
        if (!applied.cursor || applied.cursor == position.cursor)
            throw api::TransportError(api::TransportError::Kind::protocol,
                                      "GET /events: a full page did not move the cursor");
        position.cursor = applied.cursor;
    }
}

} // namespace dirsync::sync
