// The WorkOS Directory Sync endpoints as typed calls: targets, auth header, pacing, per-request
// retries, decoding. One page per call; the sync layer walks the pages.
#pragma once

#include "api/api_error.hpp"
#include "api/rate_limiter.hpp"
#include "api/retry_policy.hpp"
#include "decode/decode.hpp"
#include "http/transport.hpp"
#include "model/api_options.hpp"
#include "model/event.hpp"
#include "model/model.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace dirsync::api {

enum class Endpoint { list_directories, get_directory, list_users, list_groups, list_events };
inline constexpr std::size_t endpoint_count = 5;
char const* endpoint_name(Endpoint e); // "GET /directory_users", ...

struct RequestStats {
    std::array<std::uint64_t, endpoint_count> sent{};      // requests put on the wire
    std::array<std::uint64_t, endpoint_count> throttled{}; // 429 answers
    std::uint64_t retries = 0;
    // answers by endpoint and HTTP status (0: no answer, a network or TLS failure)
    std::map<std::pair<Endpoint, int>, std::uint64_t> answered;
    std::uint64_t total() const;
};

struct ApiClientOptions {
    std::string api_key;
    std::string user_agent;
    RetryPolicy retry;
};

// What a list of users or groups is filtered by.
enum class UserFilter { directory, group };
enum class GroupFilter { directory, user };

// GET /events: the types to return, and where to start: after a cursor (an event id) or, without
// one, at range_start. One organization may be filtered on the server.
struct EventsQuery {
    std::vector<std::string> types;
    std::optional<std::string> after;
    std::optional<std::string> range_start;
    std::optional<std::string> organization_id;
};
std::string events_target(EventsQuery const& query);
// A target as log lines show it: the /events list of types shortened to their number.
std::string loggable(std::string const& target);

class ApiClient {
public:
    // All references must outlive the client; calls come from the io_context's one thread.
    ApiClient(boost::asio::any_io_executor ex, http::Transport& transport, RateLimiter& limiter,
              ApiClientOptions options, spdlog::logger& log);

    // GET /directories/{id}; nullopt when the API answers 404 (the directory is gone).
    boost::asio::awaitable<std::optional<Directory>> get_directory(std::string id);

    boost::asio::awaitable<Page<Directory>>
    list_directories(std::optional<std::string> organization_id, std::optional<std::string> after);

    // `directory_id` is the directory the call counts against for pacing (the listed one, or the
    // group's directory).
    boost::asio::awaitable<Page<User>> list_users(UserFilter filter, std::string filter_id,
                                                  std::string directory_id,
                                                  std::optional<std::string> after);
    boost::asio::awaitable<Page<Group>> list_groups(GroupFilter filter, std::string filter_id,
                                                    std::optional<std::string> after);
    // The members of a group (GET /directory_users?group=, paced as `directory_id`'s) or the
    // groups of a user (GET /directory_groups?user=), read for their ids alone.
    boost::asio::awaitable<Page<MemberRef>> list_group_members(std::string group_id,
                                                               std::string directory_id,
                                                               std::optional<std::string> after);
    boost::asio::awaitable<Page<MemberRef>> list_user_groups(std::string user_id,
                                                             std::optional<std::string> after);

    // One page of events, in stream order.
    boost::asio::awaitable<EventPage> list_events(EventsQuery query);

    RequestStats const& stats() const { return stats_; }
    RateLimits const& rate_limits() const; // the pace the limiter keeps
    // A rotated key (SIGHUP): used from the next request on.
    void set_api_key(std::string key) { options_.api_key = std::move(key); }

private:
    template <class Accept>
    boost::asio::awaitable<http::Response> request(Endpoint endpoint, std::string target,
                                                   std::string pacing_directory, Accept accept);
    template <class T>
    boost::asio::awaitable<T>
    fetch(Endpoint endpoint, std::string target, std::string pacing,
          boost::system::result<T, decode::DecodeError> (*parse)(std::string_view));
    boost::asio::awaitable<void> wait_for_hold();

    boost::asio::any_io_executor ex_;
    http::Transport& transport_;
    RateLimiter& limiter_;
    ApiClientOptions options_;
    spdlog::logger& log_;
    RequestStats stats_;
    std::mt19937_64 rng_;
    // No request leaves before this time: set from a 429's Retry-After.
    std::chrono::steady_clock::time_point hold_until_{};
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view value);

} // namespace dirsync::api
