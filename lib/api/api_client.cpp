#include "api/api_client.hpp"

#include "decode/decode.hpp"
#include "decode/events.hpp"
#include "model/timestamp.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>

namespace dirsync::api {
namespace asio = boost::asio;

char const* endpoint_name(Endpoint e)
{
    // In the order of the enumerators.
    static constexpr char const* names[endpoint_count] = {
        "GET /directories", "GET /directories/{id}", "GET /directory_users",
        "GET /directory_groups", "GET /events"};
    return names[static_cast<std::size_t>(e)];
}

std::uint64_t RequestStats::total() const
{
    std::uint64_t n = 0;
    for (auto v : sent)
        n += v;
    return n;
}

std::string url_encode(std::string_view value)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

namespace {

std::string list_target(std::string path, std::string filter_key, std::string const& filter_value,
                        std::optional<std::string> const& after)
{
    std::string t = std::move(path) + "?";
    if (!filter_key.empty())
        t += filter_key + "=" + url_encode(filter_value) + "&";
    t += fmt::format("limit={}&order=asc", page_size);
    if (after)
        t += "&after=" + url_encode(*after);
    return t;
}

bool is_tls_error(boost::system::error_code ec)
{
    return ec.category() == asio::error::get_ssl_category();
}

std::string describe_status(http::Response const& res, decode::ErrorBody const& body)
{
    std::string text = fmt::format("HTTP {}", res.status);
    if (body.code)
        text += fmt::format(" {}", *body.code);
    if (!body.message.empty())
        text += fmt::format(" ({})", body.message);
    for (auto const& [field, code] : body.errors)
        text += fmt::format(" [{}: {}]", field, code);
    return text;
}

// The request's headers for a trace line: the credential is never written, only its length.
std::string loggable_headers(http::Request const& request)
{
    std::string out;
    for (auto const& [name, value] : request.headers) {
        out += out.empty() ? "" : ", ";
        out += name == "Authorization"
                   ? fmt::format("{}: <redacted, {} characters>", name, value.size())
                   : fmt::format("{}: {}", name, value);
    }
    return out;
}

std::string request_id_note(std::string const& id)
{
    return id.empty() ? std::string() : fmt::format(", X-Request-ID {}", id);
}

} // namespace

std::string events_target(EventsQuery const& query)
{
    std::string types;
    for (auto const& t : query.types)
        types += (types.empty() ? "" : ",") + t;
    // order=asc always: the documented default is newest first, and a stream read that way would
    // park its cursor on the oldest event (see ../shared/workos-api.md §5).
    std::string target =
        fmt::format("/events?events={}&limit={}&order=asc", url_encode(types), page_size);
    if (query.after)
        target += "&after=" + url_encode(*query.after);
    else if (query.range_start)
        target += "&range_start=" + url_encode(*query.range_start);
    if (query.organization_id)
        target += "&organization_id=" + url_encode(*query.organization_id);
    return target;
}

std::string loggable(std::string const& target)
{
    // The /events target names every event type: a log line names how many.
    auto const begin = target.find("events=");
    if (begin == std::string::npos)
        return target;
    auto const end = std::min(target.find('&', begin), target.size());
    auto const types = target.substr(begin + 7, end - begin - 7);
    std::size_t n = 1;
    for (std::size_t at = 0; (at = types.find("%2C", at)) != std::string::npos; at += 3)
        ++n;
    return target.substr(0, begin) + fmt::format("events=<{} types>", n) + target.substr(end);
}

asio::awaitable<void> ApiClient::wait_for_hold()
{
    // A 429's Retry-After holds every request of the client, not only the refused one: the
    // limits are per key, and another directory's request sent before the time is up would only
    // earn another 429.
    while (std::chrono::steady_clock::now() < hold_until_) {
        asio::steady_timer timer(ex_, hold_until_);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

// The request loop shared by every call: pacing, transport, status check, decoding (`accept`
// returns an error text when the body is not what the endpoint returns), retries.
template <class Accept>
asio::awaitable<http::Response> ApiClient::request(Endpoint endpoint, std::string target,
                                                   std::string pacing_directory, Accept accept)
{
    auto const index = static_cast<std::size_t>(endpoint);
    http::Request request{target,
                          {{"Authorization", "Bearer " + options_.api_key},
                           {"Accept", "application/json"},
                           {"User-Agent", options_.user_agent}}};
    std::uniform_real_distribution<double> unit(0.0, 1.0);

    for (int attempt = 1;; ++attempt) {
        std::string failure;
        std::optional<std::chrono::milliseconds> server_hint;
        bool const final_attempt = attempt >= options_.retry.max_attempts;

        auto const permit = co_await limiter_.acquire(pacing_directory); // held for this attempt
        co_await wait_for_hold();
        ++stats_.sent[index];
        if (log_.should_log(spdlog::level::trace)) // the header text is built only for trace
            log_.trace("GET {} attempt {}: {}", target, attempt, loggable_headers(request));
        try {
            auto res = co_await transport_.get(request);
            ++stats_.answered[{endpoint, res.status}];
            log_.trace("GET {} -> HTTP {}, {} bytes, X-Request-ID {}", target, res.status,
                       res.body.size(), res.request_id.empty() ? "-" : res.request_id);
            if (res.status >= 200 && res.status < 300) {
                auto why = accept(res);
                if (!why)
                    co_return res;
                failure =
                    fmt::format("malformed response: {}{}", *why, request_id_note(res.request_id));
                if (final_attempt)
                    throw TransportError(TransportError::Kind::protocol,
                                         fmt::format("GET {}: {}", loggable(target), failure));
            } else {
                if (res.status == 429) {
                    ++stats_.throttled[index];
                    if (res.retry_after)
                        server_hint =
                            retry_after_delay(options_.retry, *res.retry_after, now_micros());
                    if (server_hint)
                        hold_until_ =
                            std::max(hold_until_, std::chrono::steady_clock::now() + *server_hint);
                }
                auto const body = decode::parse_error_body(res.body);
                failure = describe_status(res, body) + request_id_note(res.request_id);
                if (!is_retryable_status(res.status) || final_attempt) {
                    throw ApiError(res.status, body.code.value_or(""), res.request_id,
                                   fmt::format("GET {}: {}{}", loggable(target), failure,
                                               is_retryable_status(res.status)
                                                   ? fmt::format(" after {} attempts", attempt)
                                                   : ""));
                }
            }
        } catch (http::StaleConnection const&) {
            --attempt; // never reached the server: not a failed attempt, send it again now
            continue;
        } catch (boost::system::system_error const& e) {
            if (e.code() == asio::error::operation_aborted)
                throw;
            ++stats_.answered[{endpoint, 0}];

            auto const kind =
                is_tls_error(e.code()) ? TransportError::Kind::tls : TransportError::Kind::network;
            // A certificate that fails verification will fail the same way next time.
            if (final_attempt || kind == TransportError::Kind::tls)
                throw TransportError(
                    kind, fmt::format("GET {}: {}{}", loggable(target), e.code().message(),
                                      kind == TransportError::Kind::tls
                                          ? " (TLS)"
                                          : fmt::format(" after {} attempts", attempt)));
            failure = e.code().message();
        }
        ++stats_.retries;
        auto const delay = server_hint.value_or(backoff_delay(options_.retry, attempt, unit(rng_)));
        log_.warn("GET {} failed ({}), attempt {}/{}, retrying in {} ms", loggable(target), failure,
                  attempt, options_.retry.max_attempts, delay.count());
        asio::steady_timer timer(ex_, delay);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

// Fetches and decodes one document, retrying a body that does not decode like a failed request.
template <class T>
asio::awaitable<T> ApiClient::fetch(Endpoint endpoint, std::string target, std::string pacing,
                                    decode::Decoded<T> (*parse)(std::string_view))
{
    std::optional<T> decoded;
    // GCC 12 double-frees a lambda with captures created inside a co_await expression: name it.
    auto accept = [&decoded, parse](http::Response const& res) -> std::optional<std::string> {
        auto d = parse(res.body);
        if (!d)
            return d.error().message();
        decoded = std::move(*d);
        return std::nullopt;
    };
    co_await request(endpoint, std::move(target), std::move(pacing), accept);
    co_return std::move(*decoded);
}

ApiClient::ApiClient(asio::any_io_executor ex, http::Transport& transport, RateLimiter& limiter,
                     ApiClientOptions options, spdlog::logger& log)
    : ex_(std::move(ex))
    , transport_(transport)
    , limiter_(limiter)
    , options_(std::move(options))
    , log_(log)
    , rng_(std::random_device{}())
{
}

RateLimits const& ApiClient::rate_limits() const
{
    return limiter_.limits();
}

asio::awaitable<EventPage> ApiClient::list_events(EventsQuery query)
{
    co_return co_await fetch<EventPage>(Endpoint::list_events, events_target(query), {},
                                        &decode::parse_event_page);
}

asio::awaitable<std::optional<Directory>> ApiClient::get_directory(std::string id)
{
    std::string target = "/directories/" + url_encode(id);
    try {
        co_return co_await fetch<Directory>(Endpoint::get_directory, std::move(target), {},
                                            &decode::parse_directory);
    } catch (ApiError const& e) {
        if (e.status() != 404)
            throw;
    }
    co_return std::nullopt;
}

asio::awaitable<Page<Directory>>
ApiClient::list_directories(std::optional<std::string> organization_id,
                            std::optional<std::string> after)
{
    auto target = organization_id
                      ? list_target("/directories", "organization_id", *organization_id, after)
                      : list_target("/directories", "", "", after);
    co_return co_await fetch<Page<Directory>>(Endpoint::list_directories, std::move(target), {},
                                              &decode::parse_directory_page);
}

asio::awaitable<Page<User>> ApiClient::list_users(UserFilter filter, std::string filter_id,
                                                  std::string directory_id,
                                                  std::optional<std::string> after)
{
    auto target =
        list_target("/directory_users", filter == UserFilter::directory ? "directory" : "group",
                    filter_id, after);
    co_return co_await fetch<Page<User>>(Endpoint::list_users, std::move(target),
                                         std::move(directory_id), &decode::parse_user_page);
}

asio::awaitable<Page<Group>> ApiClient::list_groups(GroupFilter filter, std::string filter_id,
                                                    std::optional<std::string> after)
{
    auto target =
        list_target("/directory_groups", filter == GroupFilter::directory ? "directory" : "user",
                    filter_id, after);
    co_return co_await fetch<Page<Group>>(Endpoint::list_groups, std::move(target), {},
                                          &decode::parse_group_page);
}

asio::awaitable<Page<MemberRef>> ApiClient::list_group_members(std::string group_id,
                                                               std::string directory_id,
                                                               std::optional<std::string> after)
{
    auto target = list_target("/directory_users", "group", group_id, after);
    co_return co_await fetch<Page<MemberRef>>(Endpoint::list_users, std::move(target),
                                              std::move(directory_id), &decode::parse_member_page);
}

asio::awaitable<Page<MemberRef>> ApiClient::list_user_groups(std::string user_id,
                                                             std::optional<std::string> after)
{
    auto target = list_target("/directory_groups", "user", user_id, after);
    co_return co_await fetch<Page<MemberRef>>(Endpoint::list_groups, std::move(target), {},
                                              &decode::parse_member_page);
}

} // namespace dirsync::api
