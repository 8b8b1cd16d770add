// The one walk over a paged listing (https://workos.com/docs/reference/pagination): follow
// list_metadata.after until it is null or a page is empty, and never loop on a stuck cursor or
// past a page cap.
#pragma once

#include "model/model.hpp"
#include "sync/sync_error.hpp"

#include <boost/asio/awaitable.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dirsync::sync {

// Fetches pages from `cursor` on with `fetch(cursor)` and hands each to `sink(page, next)`,
// `next` being the cursor of the page after it (nullopt after the last one). `sink` is
// synchronous (it stores the page), so a stop lands between pages. Throws SyncError naming
// `what` when the cursor does not advance or the listing runs past `max_pages`. Returns the
// number of pages.
template <class T, class Fetch, class Sink>
boost::asio::awaitable<std::int64_t> walk_pages(std::string what, Fetch fetch,
                                                std::optional<std::string> cursor,
                                                std::int64_t max_pages, Sink sink)
{
    for (std::int64_t pages = 1;; ++pages) {
        if (pages > max_pages)
            throw SyncError(fmt::format("{} returned more than {} pages "
                                        "(max_pages_per_listing); stopped",
                                        what, max_pages));
        Page<T> page = co_await fetch(cursor);
        bool const last = !page.after || (page.items.empty() && page.rejected.empty());
        if (!last && page.after == cursor)
            throw SyncError(fmt::format("{}: the cursor did not advance ({}); stopped instead "
                                        "of looping",
                                        what, *cursor));
        std::optional<std::string> next;
        if (!last)
            next = page.after;
        sink(page, next);
        if (last)
            co_return pages;
        cursor = std::move(next);
    }
}

} // namespace dirsync::sync
