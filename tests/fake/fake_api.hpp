// The fake WorkOS API's request handling (spec section 10): routes, auth, filters, 422s,
// pagination, rate limits. No sockets here: FakeServer feeds it requests.
#pragma once

#include "dataset.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fake {

struct FakeRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers; // names lower-case
};

struct FakeResponse {
    unsigned status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct FakeOptions {
    std::string api_key = "sk_test_fake_key_0123456789";
    bool rate_limit = true;
    double directory_users_per_second = 4.0; // per directory, on /directory_users
    double directory_users_burst = 4.0;
    double global_per_second = 100.0; // 6,000 per 60 s
    double global_burst = 100.0;
    bool ratelimit_bare_string_body = false; // 429 body "Ratelimited"
    bool omit_retry_after = false;
    bool empty_embedded_groups = false; // post-May-2026 environments: groups: [] always
    // /events: events older than this are gone; an `after` cursor older than it gets a 422
    // (or, with expired_cursor_empty_page, an empty page).
    std::chrono::milliseconds event_retention{std::chrono::hours(24 * 30)};
    bool expired_cursor_empty_page = false;
    bool events_after_always_last_id = false; // list_metadata.after even on the last page
};

struct FakeStats {
    std::map<std::string, std::uint64_t> requests; // by route, e.g. "GET /directory_users"
    std::uint64_t throttled = 0;                   // 429s sent
    // Retries of a refused request (same target) that came before the Retry-After we gave had
    // passed. (Other requests already in flight when a 429 went out cannot know of it.)
    std::uint64_t early_retries = 0;
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
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point last{};
        bool started = false;
    };
    // Takes a token from the bucket; false (and a 429 in `out`) when there is none.
    bool take(Bucket& bucket, double rate, double burst, FakeResponse& out);

    FakeResponse route(FakeRequest const& request, std::string const& path,
                       std::multimap<std::string, std::string> const& query);
    FakeResponse list_events(std::multimap<std::string, std::string> const& query);

    Dataset dataset_;
    FakeOptions options_;
    FakeStats stats_;
    Bucket global_;
    std::map<std::string, Bucket> per_directory_;
    std::uint64_t request_counter_ = 0;
    std::string current_target_;
    std::map<std::string, std::chrono::steady_clock::time_point> retry_not_before_; // by target
};

} // namespace fake
