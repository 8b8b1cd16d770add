#include "fake_api.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <variant>

namespace fake {
namespace json = boost::json;

std::uint64_t FakeStats::total() const
{
    std::uint64_t n = 0;
    for (auto const& [route, count] : requests)
        n += count;
    return n;
}

namespace {

std::string percent_decode(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%' && i + 2 < s.size()) {
            int v = 0;
            auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
            if (ec == std::errc{} && p == s.data() + i + 3) {
                out.push_back(static_cast<char>(v));
                i += 2;
            } else {
                out.push_back(s[i]);
            }
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view q)
{
    std::multimap<std::string, std::string> out;
    while (!q.empty()) {
        auto const amp = q.find('&');
        auto part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (part.empty())
            continue;
        auto const eq = part.find('=');
        out.emplace(percent_decode(part.substr(0, eq)),
                    eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1)));
    }
    return out;
}

std::optional<std::string> param(std::multimap<std::string, std::string> const& q,
                                 std::string const& key)
{
    auto it = q.find(key);
    if (it == q.end() || it->second.empty())
        return std::nullopt;
    return it->second;
}

FakeResponse json_response(unsigned status, json::value const& body)
{
    FakeResponse r;
    r.status = status;
    r.body = json::serialize(body);
    return r;
}

FakeResponse validation_error(std::vector<std::pair<std::string, std::string>> const& errors)
{
    json::array arr;
    for (auto const& [field, code] : errors)
        arr.push_back({{"field", field}, {"code", code}});
    return json_response(422, {{"message", "Validation failed"}, {"errors", std::move(arr)}});
}

FakeResponse not_found(std::string const& what, std::string const& id)
{
    return json_response(404, {{"message", what + " not found: '" + id + "'."},
                               {"code", "entity_not_found"},
                               {"entity_id", id}});
}

struct PageSlice {
    std::vector<std::string const*> ids;
    json::value before = nullptr;
    json::value after = nullptr;
};

// The paging parameters of a list request, checked.
struct Paging {
    std::size_t limit = 10;
    std::string order = "desc";
    std::optional<std::string> after, before;
};

std::variant<Paging, FakeResponse> read_paging(std::multimap<std::string, std::string> const& q,
                                               std::string const& prefix)
{
    Paging p;
    if (auto l = param(q, "limit")) {
        int limit = 0;
        auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
        if (ec != std::errc{} || ptr != l->data() + l->size() || limit < 1 || limit > 100)
            return validation_error({{"limit", "Limit must be a number between 1 and 100."}});
        p.limit = static_cast<std::size_t>(limit);
    }
    p.order = param(q, "order").value_or("desc");
    if (p.order != "asc" && p.order != "desc" && p.order != "normal")
        return validation_error({{"order", "Order must be asc, desc or normal."}});
    p.after = param(q, "after");
    p.before = param(q, "before");
    if (p.after && p.before)
        return validation_error({{"after", "Provide either after or before."}});
    for (auto const* c : {&p.after, &p.before})
        if (*c && !is_well_formed_id(**c, prefix))
            return validation_error({{c == &p.after ? "after" : "before", "invalid_cursor"}});
    return p;
}

// Keyset pagination over ids sorted ascending: `after`/`before` name an id (which need not exist
// any more), the page holds the `limit` items next to it in the chosen order.
PageSlice paginate(std::vector<std::string const*> list, Paging p)
{
    bool const ascending = p.order == "asc";
    if (!ascending)
        std::reverse(list.begin(), list.end());
    if (p.order == "normal") // legacy: cursor directions swapped
        std::swap(p.after, p.before);
    // "x sorts strictly after c" in the chosen order
    auto const sorts_after = [ascending](std::string const& x, std::string const& c) {
        return ascending ? x > c : x < c;
    };

    std::size_t lo = 0, hi = 0;
    std::size_t const n = list.size();
    if (p.after) {
        lo = static_cast<std::size_t>(
            std::find_if(list.begin(), list.end(),
                         [&](auto const* x) { return sorts_after(*x, *p.after); }) -
            list.begin());
        hi = std::min(n, lo + p.limit);
    } else if (p.before) {
        hi = static_cast<std::size_t>(
            std::find_if(list.begin(), list.end(),
                         [&](auto const* x) { return !sorts_after(*p.before, *x); }) -
            list.begin());
        lo = hi > p.limit ? hi - p.limit : 0;
    } else {
        hi = std::min(n, p.limit);
    }
    PageSlice slice;
    slice.ids.assign(list.begin() + static_cast<std::ptrdiff_t>(lo),
                     list.begin() + static_cast<std::ptrdiff_t>(hi));
    if (!slice.ids.empty()) {
        if (p.order == "normal") {
            if (hi < n)
                slice.before = *slice.ids.back(); // toward older items
            if (lo > 0)
                slice.after = *slice.ids.front();
        } else {
            if (hi < n)
                slice.after = *slice.ids.back();
            if (lo > 0)
                slice.before = *slice.ids.front();
        }
    }
    return slice;
}

std::vector<std::string const*> pointers(std::set<std::string> const& s);

// The same over a sorted set, without copying it: what a listing of a million users needs.
// `before` and `normal` (rare, tests only) take the general path.
PageSlice paginate(std::set<std::string> const& ids, Paging const& p)
{
    if (p.before || (p.order != "asc" && p.order != "desc"))
        return paginate(pointers(ids), p);
    auto const take = [&](auto first, auto last, auto begin) {
        PageSlice slice;
        for (auto it = first; it != last && slice.ids.size() < p.limit; ++it)
            slice.ids.push_back(&*it);
        if (slice.ids.empty())
            return slice;
        if (std::next(first, static_cast<std::ptrdiff_t>(slice.ids.size())) != last)
            slice.after = *slice.ids.back();
        if (first != begin)
            slice.before = *slice.ids.front();
        return slice;
    };
    if (p.order == "asc")
        return take(p.after ? ids.upper_bound(*p.after) : ids.begin(), ids.end(), ids.begin());
    auto const from =
        p.after ? std::make_reverse_iterator(ids.lower_bound(*p.after)) : ids.rbegin();
    return take(from, ids.rend(), ids.rbegin());
}

std::vector<std::string const*> pointers(std::set<std::string> const& s)
{
    std::vector<std::string const*> out;
    out.reserve(s.size());
    for (auto const& x : s)
        out.push_back(&x);
    return out;
}

json::object list_body(json::array data, PageSlice const& slice)
{
    return {{"object", "list"},
            {"data", std::move(data)},
            {"list_metadata", {{"before", slice.before}, {"after", slice.after}}}};
}

} // namespace

FakeApi::FakeApi(Dataset dataset, FakeOptions options)
    : dataset_(std::move(dataset))
    , options_(std::move(options))
{
}

bool FakeApi::admit(Window& window, int per_second, FakeResponse& out)
{
    auto const now = std::chrono::steady_clock::now();
    while (!window.empty() && window.front() <= now - std::chrono::seconds(1))
        window.pop_front();
    if (static_cast<int>(window.size()) < per_second) {
        window.push_back(now);
        return true;
    }
    ++stats_.throttled;
    out.status = 429;
    out.body = options_.ratelimit_bare_string_body
                   ? "\"Ratelimited\""
                   : R"({"message":"Too many requests.","code":"rate_limit_exceeded"})";
    if (!options_.omit_retry_after) {
        out.headers.emplace_back("Retry-After", "1");
        retry_not_before_[current_target_] = now + std::chrono::seconds(1);
    }
    return false;
}

FakeResponse FakeApi::handle(FakeRequest const& request)
{
    current_target_ = request.target;
    if (auto it = retry_not_before_.find(request.target); it != retry_not_before_.end()) {
        if (std::chrono::steady_clock::now() < it->second)
            ++stats_.early_retries;
        retry_not_before_.erase(it);
    }
    auto const qpos = request.target.find('?');
    std::string const path = request.target.substr(0, qpos);
    auto const query =
        parse_query(qpos == std::string::npos ? std::string_view{}
                                              : std::string_view(request.target).substr(qpos + 1));
    FakeResponse res = route(request, path, query);
    inject_fault(request, query, res);
    res.headers.emplace_back("X-Request-ID", "req_" + std::to_string(++request_counter_));
    return res;
}

void FakeApi::inject_fault(FakeRequest const& request,
                           std::multimap<std::string, std::string> const& query, FakeResponse& res)
{
    auto& rules = options_.faults;
    auto it = std::find_if(rules.begin(), rules.end(), [&](FaultRule const& r) {
        return r.count > 0 && request.target.rfind(r.target_prefix, 0) == 0;
    });
    bool const remember = std::any_of(rules.begin(), rules.end(), [](FaultRule const& r) {
        return r.fault == Fault::duplicate_page && r.count > 0;
    });
    std::optional<json::array> this_page;
    if (remember && res.status == 200 && res.body.rfind("{\"object\":\"list\"", 0) == 0)
        this_page = json::parse(res.body).as_object().at("data").as_array();
    struct Remember { // the page as served before any fault, for the next duplicate_page
        std::optional<json::array>& page;
        json::array& previous;
        ~Remember()
        {
            if (page)
                previous = std::move(*page);
        }
    } remember_page{this_page, previous_page_};
    if (it == rules.end() || res.status == 401)
        return;
    --it->count;
    ++stats_.faults_injected;
    auto html = [&](unsigned status) {
        res = {};
        res.status = status;
        res.content_type = "text/html";
        res.body = "<html><head><title>" + std::to_string(status) +
                   "</title></head><body><h1>Bad gateway or worse</h1></body></html>";
    };
    switch (it->fault) {
    case Fault::http_500_html:
        return html(500);
    case Fault::http_502_html:
        return html(502);
    case Fault::http_503_html:
        return html(503);
    case Fault::http_504_html:
        return html(504);
    case Fault::http_408_html:
        return html(408);
    case Fault::ratelimit_retry_after_date: {
        res = {};
        res.status = 429;
        res.body = R"({"message":"Too many requests.","code":"rate_limit_exceeded"})";
        auto const at = std::time(nullptr) + 2;
        std::tm tm{};
        gmtime_r(&at, &tm);
        char date[64];
        std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        res.headers.emplace_back("Retry-After", date);
        retry_not_before_[request.target] =
            std::chrono::steady_clock::now() + std::chrono::seconds(1);
        return;
    }
    case Fault::ratelimit_no_retry_after:
        res = {};
        res.status = 429;
        res.body = "\"Ratelimited\"";
        return;
    case Fault::reset_mid_body:
        res.delivery = Delivery::reset_mid_body;
        return;
    case Fault::hang:
        res.delivery = Delivery::hang;
        return;
    case Fault::slow_drip:
        res.delivery = Delivery::drip;
        return;
    case Fault::oversize:
        res.body = R"({"data":[],"padding":")" + std::string(8u << 20, 'x') +
                   R"(","list_metadata":{"after":null}})";
        return;
    case Fault::malformed_json:
        res.body = "<?xml version=\"1.0\"?><oops/>";
        return;
    case Fault::truncated_json:
        res.body = res.body.substr(0, res.body.size() / 2);
        return;
    case Fault::wrong_shape:
        res.body = R"({"object":"list","data":{"id":"x"},"list_metadata":{"after":null}})";
        return;
    case Fault::stuck_cursor:
    case Fault::duplicate_page:
    case Fault::legacy_metadata: {
        if (res.status != 200)
            return;
        auto doc = json::parse(res.body).as_object();
        if (it->fault == Fault::legacy_metadata) {
            doc["listMetadata"] = doc["list_metadata"];
            doc.erase("list_metadata");
        } else if (it->fault == Fault::stuck_cursor) {
            auto const after = param(query, "after");
            doc["list_metadata"].as_object()["after"] =
                after ? json::value(*after)
                      : (doc["data"].as_array().empty()
                             ? json::value(nullptr)
                             : json::value(doc["data"].as_array().back().at("id")));
            if (!after) // the next request will carry this cursor: stick to it then
                ++it->count;
        } else {
            // duplicates across pages: this page starts with the items of the page before
            auto& data = doc["data"].as_array();
            json::array merged = previous_page_;
            for (auto& v : data)
                merged.push_back(v);
            data = std::move(merged);
        }
        res.body = json::serialize(doc);
        return;
    }
    }
}

FakeResponse FakeApi::route(FakeRequest const& req, std::string const& path,
                            std::multimap<std::string, std::string> const& q)
{
    // Route name for the statistics: ids collapse to {id}.
    std::string route = req.method + " " + path;
    std::string id;
    for (char const* prefix : {"/directories/", "/directory_users/", "/directory_groups/"}) {
        std::string_view p(prefix);
        if (path.size() > p.size() && path.compare(0, p.size(), p) == 0) {
            id = path.substr(p.size());
            route = req.method + " " + std::string(p) + "{id}";
        }
    }
    ++stats_.requests[route];

    auto auth = req.headers.find("authorization");
    if (auth == req.headers.end() || auth->second != "Bearer " + options_.api_key)
        return json_response(401, {{"message", "Unauthorized"}});

    FakeResponse limited;
    if (options_.rate_limit && !admit(global_, options_.global_per_second, limited))
        return limited;

    auto& ds = dataset_;
    if (req.method == "GET" && path == "/directories") {
        auto const org = param(q, "organization_id");
        auto const search = param(q, "search");
        auto const domain = param(q, "domain");
        std::vector<std::string const*> ids;
        for (auto const& [did, d] : ds.directories())
            if ((!org || d.organization_id == *org) &&
                (!search || d.name.find(*search) != std::string::npos) &&
                (!domain || d.domain == *domain))
                ids.push_back(&did);
        auto paging = read_paging(q, "directory_");
        if (auto* err = std::get_if<FakeResponse>(&paging))
            return *err;
        auto const slice = paginate(std::move(ids), std::get<Paging>(paging));
        json::array data;
        for (auto const* i : slice.ids)
            data.push_back(ds.directory_json(ds.directories().at(*i)));
        return json_response(200, list_body(std::move(data), slice));
    }
    if (path.rfind("/directories/", 0) == 0 && !id.empty()) {
        auto it = ds.directories().find(id);
        if (it == ds.directories().end())
            return not_found("Directory", id);
        if (req.method == "DELETE") {
            ds.delete_directory(id);
            FakeResponse r;
            r.status = 202;
            r.content_type = "text/plain";
            r.body = "Accepted";
            return r;
        }
        if (req.method == "GET")
            return json_response(200, ds.directory_json(it->second));
    }
    if (req.method == "GET" && path == "/directory_users") {
        auto const dir = param(q, "directory");
        auto const group = param(q, "group");
        if (!dir == !group)
            return validation_error({{"directory", "Provide either directory or group."},
                                     {"group", "Provide either directory or group."}});
        auto const idp = param(q, "idp_id");
        auto const email = param(q, "email");
        if (!dir && (idp || email))
            return validation_error(
                {{idp ? "idp_id" : "email", "Filter only allowed together with directory."}});
        std::string pacing_dir = dir.value_or("");
        std::set<std::string> const* ids = nullptr;
        static std::set<std::string> const none;
        if (dir) {
            ids = options_.empty_user_listings.count(*dir) ? &none : &ds.users_of_directory(*dir);
        } else {
            auto g = ds.groups().find(*group);
            if (g != ds.groups().end())
                pacing_dir = g->second.directory_id;
            ids = &ds.members_of_group(*group);
        }
        if (!pacing_dir.empty())
            ++stats_.directory_users_by_directory[pacing_dir];
        if (options_.rate_limit && !pacing_dir.empty() &&
            !admit(per_directory_[pacing_dir], options_.directory_users_per_second, limited))
            return limited;
        auto paging = read_paging(q, "directory_user_");
        if (auto* err = std::get_if<FakeResponse>(&paging))
            return *err;
        PageSlice slice;
        if (idp || email) {
            std::vector<std::string const*> list;
            for (auto const& uid : *ids) {
                auto const& u = ds.users().at(uid);
                if ((!idp || u.idp_id == *idp) && (!email || u.email == *email))
                    list.push_back(&uid);
            }
            slice = paginate(std::move(list), std::get<Paging>(paging));
        } else {
            slice = paginate(*ids, std::get<Paging>(paging));
        }
        json::array data;
        // Embedded groups are empty on ?group= lists, and always in new environments.
        bool const embed = !options_.empty_embedded_groups && !group;
        for (auto const* i : slice.ids)
            data.push_back(ds.user_json(ds.users().at(*i), embed));
        return json_response(200, list_body(std::move(data), slice));
    }
    if (req.method == "GET" && path.rfind("/directory_users/", 0) == 0 && !id.empty()) {
        auto it = ds.users().find(id);
        if (it == ds.users().end())
            return not_found("Directory user", id);
        return json_response(200, ds.user_json(it->second, !options_.empty_embedded_groups));
    }
    if (req.method == "GET" && path == "/directory_groups") {
        auto const dir = param(q, "directory");
        auto const user = param(q, "user");
        if (!dir == !user)
            return validation_error({{"directory", "Provide either directory or user."},
                                     {"user", "Provide either directory or user."}});
        auto const& ids = dir ? ds.groups_of_directory(*dir) : ds.groups_of_user(*user);
        auto paging = read_paging(q, "directory_group_");
        if (auto* err = std::get_if<FakeResponse>(&paging))
            return *err;
        auto const slice = paginate(ids, std::get<Paging>(paging));
        json::array data;
        for (auto const* i : slice.ids)
            data.push_back(ds.group_json(ds.groups().at(*i)));
        return json_response(200, list_body(std::move(data), slice));
    }
    if (req.method == "GET" && path.rfind("/directory_groups/", 0) == 0 && !id.empty()) {
        auto it = ds.groups().find(id);
        if (it == ds.groups().end())
            return not_found("Directory group", id);
        return json_response(200, ds.group_json(it->second));
    }
    if (req.method == "GET" && path == "/events")
        return list_events(q);
    return json_response(404, {{"message", "Not Found"}});
}

FakeResponse FakeApi::list_events(std::multimap<std::string, std::string> const& q)
{
    // events=a,b | events=a&events=b | events[]=a
    std::set<std::string> types;
    for (auto const* key : {"events", "events[]"}) {
        auto [lo, hi] = q.equal_range(key);
        for (auto it = lo; it != hi; ++it) {
            std::string_view v = it->second;
            while (!v.empty()) {
                auto const comma = v.find(',');
                if (!v.substr(0, comma).empty())
                    types.emplace(v.substr(0, comma));
                v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
            }
        }
    }
    if (types.empty())
        return json_response(400, {{"message", "One or more event types must be given in the "
                                               "events parameter."},
                                   {"code", "invalid_events_request"}});
    int limit = 10;
    if (auto l = param(q, "limit")) {
        auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
        if (ec != std::errc{} || p != l->data() + l->size() || limit < 1 || limit > 100)
            return validation_error({{"limit", "Limit must be a number between 1 and 100."}});
    }
    auto const now = unix_ms_now();
    auto const oldest = now - static_cast<std::uint64_t>(options_.event_retention.count());
    auto const after = param(q, "after");
    if (after) {
        if (!is_well_formed_id(*after, "event_"))
            return validation_error({{"after", "invalid_cursor"}});
        // The cursor's time is in its ULID: first 10 characters after the prefix.
        std::uint64_t cursor_ms = 0;
        for (char c : after->substr(6, 10))
            cursor_ms =
                cursor_ms * 32 + static_cast<std::uint64_t>(
                                     std::string_view("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c));
        if (cursor_ms < oldest) {
            if (!options_.expired_cursor_empty_page)
                return validation_error({{"after", "cursor_expired"}});
            return json_response(200, {{"object", "list"},
                                       {"data", json::array{}},
                                       {"list_metadata", {{"after", nullptr}}}});
        }
    }
    auto parse_time = [](std::optional<std::string> const& t) -> std::optional<std::uint64_t> {
        if (!t)
            return std::nullopt;
        std::tm tm{};
        if (strptime(t->c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr)
            return std::nullopt;
        std::uint64_t ms = static_cast<std::uint64_t>(timegm(&tm)) * 1000;
        auto const dot = t->find('.');
        if (dot != std::string::npos && dot + 3 < t->size())
            ms += static_cast<std::uint64_t>(std::stoi(t->substr(dot + 1, 3)));
        return ms;
    };
    auto const range_start = parse_time(param(q, "range_start"));
    auto const range_end = parse_time(param(q, "range_end"));
    auto const org = param(q, "organization_id");

    bool const newest_first = options_.events_order == FakeOptions::EventsOrder::newest_first ||
                              (options_.events_order == FakeOptions::EventsOrder::honor &&
                               param(q, "order").value_or("desc") != "asc");
    json::array data;
    auto const& all = dataset_.events();
    std::optional<std::string> last;
    bool more = false;
    auto const wanted = [&](EventRecord const& e) {
        return e.created_ms >= oldest && types.count(e.type) &&
               (!range_start || e.created_ms >= *range_start) &&
               (!range_end || e.created_ms <= *range_end) && (!org || e.organization_id == *org);
    };
    auto const take = [&](EventRecord const& e) {
        if (!wanted(e))
            return true;
        if (static_cast<int>(data.size()) == limit) {
            more = true;
            return false;
        }
        data.push_back(dataset_.event_json(e));
        last = e.id;
        return true;
    };
    auto const by_id = [](EventRecord const& e, std::string const& id) { return e.id < id; };
    if (newest_first) {
        // `after` names the event the page comes after in this order: older ones
        auto end = after ? std::lower_bound(all.begin(), all.end(), *after, by_id) : all.end();
        for (auto it = std::make_reverse_iterator(end); it != all.rend() && take(*it); ++it) {
        }
    } else {
        auto begin = after ? std::upper_bound(all.begin(), all.end(), *after,
                                              [](std::string const& a, EventRecord const& e) {
                                                  return a < e.id;
                                              })
                           : all.begin();
        for (auto it = begin; it != all.end() && take(*it); ++it) {
        }
    }
    json::value next = nullptr;
    if (last && (more || options_.events_after_always_last_id))
        next = *last;
    return json_response(
        200, {{"object", "list"}, {"data", std::move(data)}, {"list_metadata", {{"after", next}}}});
}

} // namespace fake
