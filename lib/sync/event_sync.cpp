#include "sync/event_sync.hpp"

#include "decode/events.hpp"
#include "decode/timestamp.hpp"
#include "sync/clock.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace dirsync::sync {
namespace asio = boost::asio;

std::string events_target(EventSyncOptions const& options, Scope const& scope,
                          store::StreamPosition const& position)
{
    std::string types;
    if (options.event_types.empty())
        for (auto const* t : decode::default_event_types)
            types += (types.empty() ? "" : ",") + std::string(t);
    else
        for (auto const& t : options.event_types)
            types += (types.empty() ? "" : ",") + t;
    std::string target = "/events?events=" + api::url_encode(types) + "&limit=100";
    if (position.cursor)
        target += "&after=" + api::url_encode(*position.cursor);
    else if (position.range_start)
        target += "&range_start=" + api::url_encode(*position.range_start);
    // One organization: let the server filter. Several: filter here (in_scope).
    if (scope.directories.empty() && scope.organizations.size() == 1)
        target += "&organization_id=" + api::url_encode(scope.organizations.front());
    return target;
}

asio::awaitable<PollResult> poll_events(api::ApiClient& api, store::EventStore& events,
                                        spdlog::logger& log, EventSyncOptions options, Scope scope)
{
    PollResult result;
    auto position = events.load_position().value_or(store::StreamPosition{});
    if (position.cursor && position.cursor_created_at) {
        auto const at = decode::parse_timestamp(*position.cursor_created_at);
        auto const retention_us =
            std::chrono::duration_cast<std::chrono::microseconds>(options.retention).count();
        if (at && now_micros() - *at > retention_us) {
            result.cursor_expired = true;
            result.expiry_reason = fmt::format("the cursor {} ({}) is older than the {} day "
                                               "event retention",
                                               *position.cursor, *position.cursor_created_at,
                                               options.retention.count() / 24);
            co_return result;
        }
    }
    auto const filter = [&scope](std::string const& dir, std::optional<std::string> const& org) {
        return in_scope(scope, dir, org);
    };

    for (;;) {
        std::string target = events_target(options, scope, position);
        http::Response res;
        try {
            res = co_await api.get(api::Endpoint::list_events, std::move(target), {});
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
        auto page = decode::parse_event_page(res.body);
        if (!page)
            throw api::TransportError(
                api::TransportError::Kind::protocol,
                fmt::format("GET /events: {}{}", page.error().message(),
                            res.request_id.empty() ? "" : ", X-Request-ID " + res.request_id));
        ++result.pages;
        if (page->items.empty())
            co_return result; // caught up
        auto applied =
            events.apply_page(page->items, filter, decode::format_timestamp(now_micros()));
        for (auto const& note : applied.notes)
            log.warn("events: {}", note);
        auto& t = result.totals;
        t.applied += applied.applied;
        t.unchanged += applied.unchanged;
        t.skipped += applied.skipped;
        t.quarantined += applied.quarantined;
        t.directories_to_sync.insert(t.directories_to_sync.end(),
                                     applied.directories_to_sync.begin(),
                                     applied.directories_to_sync.end());
        if (applied.cursor)
            t.cursor = applied.cursor;
        log.debug("events: page of {} applied ({} changed, {} unchanged, {} skipped, {} "
                  "quarantined), cursor {}",
                  page->items.size(), applied.applied, applied.unchanged, applied.skipped,
                  applied.quarantined, applied.cursor.value_or("-"));
        if (page->items.size() < 100 || result.pages >= options.max_pages_per_poll)
            co_return result;
        if (!applied.cursor || applied.cursor == position.cursor)
            throw api::TransportError(api::TransportError::Kind::protocol,
                                      "GET /events: a full page did not move the cursor");
        position.cursor = applied.cursor;
    }
}

} // namespace dirsync::sync
