// Following the Events API (spec sections 5 and 8.3): fetch the pages after the stored cursor and
// apply each in one transaction with the cursor that covers it.
#pragma once

#include "api/api_client.hpp"
#include "store/event_store.hpp"
#include "sync/full_sync.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace dirsync::sync {

struct EventSyncOptions {
    std::vector<std::string> event_types;  // empty: decode::default_event_types
    std::chrono::hours retention{24 * 30}; // older cursors are not trusted (spec: 30 days)
    int max_pages_per_poll = 1000;         // a poll returns after this many full pages
};

struct PollResult {
    int pages = 0;
    store::EventPageResult totals; // summed over the pages (cursor: the last one saved)
    bool cursor_expired = false;   // rejected by the server, or older than the retention
    std::string expiry_reason;
};

// Builds the /events target for the stored position.
std::string events_target(EventSyncOptions const& options, Scope const& scope,
                          store::StreamPosition const& position);

// Polls until a page is not full. Throws what the API client throws for failures other than a
// rejected cursor, which is reported in PollResult::cursor_expired instead.
boost::asio::awaitable<PollResult> poll_events(api::ApiClient& api, store::EventStore& events,
                                               spdlog::logger& log, EventSyncOptions options,
                                               Scope scope);

} // namespace dirsync::sync
