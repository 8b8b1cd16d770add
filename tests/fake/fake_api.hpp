// The fake WorkOS API's request handling, as the API reference describes the endpoints
// (https://workos.com/docs/reference/directory-sync): routes, auth, filters, 422s, pagination,
// rate limits. No sockets here: FakeServer feeds it requests.
#pragma once

#include "dataset.hpp"

#include <boost/json/array.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fake {

struct FakeRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers; // names lower-case
};

// How the server puts a response on the wire (network faults).
enum class Delivery {
    normal,
    reset_mid_body, // send the headers and half the body, then reset the connection
    hang,           // send the headers and half the body, then nothing for 30 s
    drip,           // send the response a few bytes at a time, slowly
};

struct FakeResponse {
    unsigned status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Delivery delivery = Delivery::normal;
};

// The fault switchboard: the next `count` requests whose target starts with `target_prefix` get
// `fault` instead of (or on top of) the normal answer.
enum class Fault {
    http_500_html,
    http_502_html,
    http_503_html,
    http_504_html,
    http_408_html,
    ratelimit_retry_after_date, // 429 with Retry-After as an HTTP date
    ratelimit_no_retry_after,   // 429 without Retry-After, bare-string body
    reset_mid_body,
    hang,
    slow_drip,
    oversize,       // a 200 with a body of several MiB
    malformed_json, // a 200 whose body is not JSON
    truncated_json, // a 200 whose JSON stops half-way
    wrong_shape,    // a 200 whose `data` is not an array
    stuck_cursor,   // list_metadata.after = the cursor that was sent
    duplicate_page, // the page again, unchanged, with the same next cursor (duplicates)
    legacy_metadata // `listMetadata` instead of `list_metadata`
};
struct FaultRule {
    std::string target_prefix;
    Fault fault;
    int count = 1;
};

struct FakeOptions {
    std::string api_key = "sk_test_fake_key_0123456789";
    // WorkOS's published limits, as sliding one-second windows: at most this many requests in
    // any second, per directory on /directory_users and over all endpoints (6,000 per 60 s).
    bool rate_limit = true;
    int directory_users_per_second = 4;
    int global_per_second = 100;
    bool ratelimit_bare_string_body = false; // 429 body "Ratelimited"
    bool omit_retry_after = false;
    bool empty_embedded_groups = false; // post-May-2026 environments: groups: [] always
    // /events: events older than this are gone; an `after` cursor older than it gets a 422
    // (or, with expired_cursor_empty_page, an empty page).
    std::chrono::milliseconds event_retention{std::chrono::hours(24 * 30)};
    bool expired_cursor_empty_page = false;
    bool events_after_always_last_id = false; // list_metadata.after even on the last page
    // /events pages oldest-first whatever `order` says (what the live service has been seen to
    // do), or honours `order` with the documented default, newest first (as WorkOS's own
    // emulator does): a client that sends no order then parks its cursor on the oldest event.
    // newest_first: always newest first, whatever `order` says (a broken server: the client must
    // notice that the ids go backwards).
    enum class EventsOrder { oldest_first, honor, newest_first };
    EventsOrder events_order = EventsOrder::oldest_first;
    std::vector<FaultRule> faults;
    // Directories whose user listing (?directory=) comes back empty: an upstream glitch, no
    // event says anything.
    std::set<std::string> empty_user_listings;
};

struct FakeStats {
    std::map<std::string, std::uint64_t> requests; // by route, e.g. "GET /directory_users"
    // GET /directory_users by the directory whose limit it counts against
    std::map<std::string, std::uint64_t> directory_users_by_directory;
    std::uint64_t throttled = 0; // 429s sent
    // Retries of a refused request (same target) that came before the Retry-After we gave had
    // passed. (Other requests already in flight when a 429 went out cannot know of it.)
    std::uint64_t early_retries = 0;
    std::uint64_t faults_injected = 0;
    std::uint64_t total() const;
};

class FakeApi {
public:
    FakeApi(Dataset dataset, FakeOptions options);

    FakeResponse handle(FakeRequest const& request);

    Dataset& dataset() { return dataset_; }
    FakeOptions& options() { return options_; }
    FakeStats const& stats() const { return stats_; }
    void reset_stats() { stats_ = {}; }

private:
    // The times of the requests admitted in the last second.
    using Window = std::deque<std::chrono::steady_clock::time_point>;
    // Admits a request under `per_second`; false (and a 429 in `out`) when the window is full.
    bool admit(Window& window, int per_second, FakeResponse& out);

    FakeResponse route(FakeRequest const& request, std::string const& path,
                       std::multimap<std::string, std::string> const& query);
    FakeResponse list_events(std::multimap<std::string, std::string> const& query);
    // Applies the first matching fault rule to `res` (and uses one of its count).
    void inject_fault(FakeRequest const& request,
                      std::multimap<std::string, std::string> const& query, FakeResponse& res);

    Dataset dataset_;
    FakeOptions options_;
    FakeStats stats_;
    Window global_;
    std::map<std::string, Window> per_directory_;
    std::uint64_t request_counter_ = 0;
    std::string current_target_;
    boost::json::array previous_page_; // for Fault::duplicate_page
    std::map<std::string, std::chrono::steady_clock::time_point> retry_not_before_; // by target
};

} // namespace fake
