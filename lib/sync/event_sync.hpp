// Following the Events API: fetch the pages after the stored cursor and apply each in one
// transaction with the cursor that covers it.
#pragma once

#include "api/api_client.hpp"
#include "model/sync_options.hpp"
#include "store/event_writer.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace dirsync::sync {

struct PollResult {
    int pages = 0;
    store::EventPageResult totals; // summed over the pages (cursor: the last one saved)
    bool cursor_expired = false;   // rejected by the server, or older than the retention
    std::string expiry_reason;
    bool caught_up = false; // the last page reached the end of the stream
    // Set when a page's ids did not ascend (after the cursor and within the page): that page is
    // not applied, and the stream must be restarted.
    std::optional<std::string> out_of_order;
};

// Why the page is not in stream order (an id not above the one before it, starting from the
// cursor), or nullopt when it is.
std::optional<std::string> out_of_order(EventPage const& page,
                                        std::optional<std::string> const& cursor);

// The /events request for the stored position: the configured types (or the defaults), after the
// cursor or from range_start, filtered on the server when the scope is one organization.
api::EventsQuery events_query(EventSyncOptions const& options, Scope const& scope,
                              store::StreamPosition const& position);

// Polls until a page is not full. Throws what the API client throws for failures other than a
// rejected cursor, which is reported in PollResult::cursor_expired instead.
boost::asio::awaitable<PollResult> poll_events(api::ApiClient& api, store::EventWriter& events,
                                               spdlog::logger& log, EventSyncOptions options,
                                               Scope scope);

} // namespace dirsync::sync
