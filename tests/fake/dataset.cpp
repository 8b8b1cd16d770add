#include "dataset.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <numeric>
#include <stdexcept>

namespace fake {
namespace json = boost::json;

namespace {

char const* const first_names[] = {"Ana",  "Li",    "Sam",  "Noor", "Kofi", "Mia",  "Ravi",
                                   "Ines", "Tomas", "Yuki", "Omar", "Lena", "Ezra", "Zara",
                                   "Ivan", "Maya",  "Hugo", "Aiko", "Jon",  "Rosa"};
char const* const last_names[] = {"Ruiz",  "Wei",   "Okafor", "Haddad", "Novak",   "Silva",
                                  "Kumar", "Berg",  "Moreau", "Tanaka", "Adeyemi", "Costa",
                                  "Kowal", "Olsen", "Reyes",  "Sato",   "Fischer", "Khan"};
char const* const group_words[] = {"Engineering", "Sales",   "Support", "Finance", "Legal",
                                   "Design",      "SRE",     "Data",    "People",  "Security",
                                   "Marketing",   "Product", "Ops",     "Research"};
char const* const dir_types[] = {"okta scim v2.0", "azure scim v2.0", "gsuite directory",
                                 "generic scim v2.0", "rippling"};

std::set<std::string> const empty_set;

std::set<std::string> const& find_or_empty(std::map<std::string, std::set<std::string>> const& m,
                                           std::string const& key)
{
    auto it = m.find(key);
    return it == m.end() ? empty_set : it->second;
}

// Base of generated data: 2025-01-01T00:00:00Z.
constexpr std::uint64_t base_ms = 1735689600000ull;

} // namespace

std::uint64_t unix_ms_now()
{
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

Dataset::Dataset(std::uint64_t seed)
    : ids_(seed)
{
}

std::string Dataset::stamp(std::uint64_t unix_ms) const
{
    std::time_t const secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    char time[32];
    std::strftime(time, sizeof time, "%H:%M:%S", &tm);
    char frac[16];
    switch (timestamp_style) {
    case TimestampStyle::offset_no_colon:
        return std::string(date) + "T" + time + "+0000";
    case TimestampStyle::space_no_zone:
        std::snprintf(frac, sizeof frac, ".%03u", static_cast<unsigned>(unix_ms % 1000));
        return std::string(date) + " " + time + frac;
    case TimestampStyle::micros:
        std::snprintf(frac, sizeof frac, ".%03u417Z", static_cast<unsigned>(unix_ms % 1000));
        return std::string(date) + "T" + time + frac;
    case TimestampStyle::iso_millis:
        break;
    }
    std::snprintf(frac, sizeof frac, ".%03uZ", static_cast<unsigned>(unix_ms % 1000));
    return std::string(date) + "T" + time + frac;
}

std::string Dataset::now_text() const
{
    return stamp(unix_ms_now());
}

std::string Dataset::new_id(std::string const& prefix, std::uint64_t unix_ms)
{
    return ids_.next(prefix, unix_ms);
}

Dataset Dataset::generate(DatasetSpec const& spec)
{
    Dataset ds(spec.seed);
    ds.generating_ = true; // the data exists before the stream we follow starts: no events
    ds.timestamp_style = spec.timestamps;
    std::mt19937_64 rng(spec.seed);
    std::uint64_t t = base_ms;
    auto const tick = [&t] { return t += 7; };
    int const dirs = std::max(1, spec.directories);
    // How many users and groups directory d gets: an even split, or 1/(d+1) of the whole.
    std::vector<double> share(static_cast<std::size_t>(dirs), 1.0);
    if (spec.skewed)
        for (int d = 0; d < dirs; ++d)
            share[static_cast<std::size_t>(d)] = 1.0 / (d + 1);
    double const total_share = std::accumulate(share.begin(), share.end(), 0.0);
    auto const split = [&](int n) {
        std::vector<int> counts;
        int given = 0;
        for (int d = 0; d < dirs; ++d) {
            int const c =
                d + 1 == dirs
                    ? n - given
                    : static_cast<int>(n * share[static_cast<std::size_t>(d)] / total_share);
            counts.push_back(c);
            given += c;
        }
        return counts;
    };
    auto const users_per_dir = split(spec.users);
    auto const groups_per_dir_count = split(spec.groups);

    std::vector<std::string> dir_ids;
    for (int d = 0; d < dirs; ++d) {
        DirectoryRecord rec;
        auto const ms = tick();
        rec.id = ds.new_id("directory_", ms);
        rec.organization_id = ds.new_id("org_", ms);
        rec.name =
            std::string(group_words[d % std::size(group_words)]) + " Corp " + std::to_string(d + 1);
        rec.domain = "corp" + std::to_string(d + 1) + ".example";
        rec.type = dir_types[d % std::size(dir_types)];
        rec.state = "linked";
        rec.created_at = rec.updated_at = ds.stamp(ms);
        ds.directories_[rec.id] = rec;
        dir_ids.push_back(rec.id);
    }
    std::vector<std::vector<std::string>> groups_per_dir(dir_ids.size());
    int g = 0;
    for (std::size_t d = 0; d < dir_ids.size(); ++d) {
        auto const& dir = ds.directories_.at(dir_ids[d]);
        for (int k = 0; k < groups_per_dir_count[d]; ++k, ++g) {
            GroupRecord rec;
            auto const ms = tick();
            rec.id = ds.new_id("directory_group_", ms);
            rec.directory_id = dir.id;
            rec.organization_id = dir.organization_id;
            rec.idp_id = "00g" + std::to_string(100000 + g);
            rec.name =
                std::string(group_words[static_cast<std::size_t>(g) % std::size(group_words)]) +
                " " + std::to_string(g / static_cast<int>(std::size(group_words)) + 1);
            rec.created_at = rec.updated_at = ds.stamp(ms);
            ds.groups_[rec.id] = rec;
            ds.groups_by_dir_[dir.id].insert(rec.id);
            groups_per_dir[d].push_back(rec.id);
        }
    }
    // Picks a group of the pool: uniformly, or with probability falling as 1/(rank + 1).
    auto const pick = [&](std::vector<std::string> const& pool) -> std::string const& {
        if (!spec.skewed)
            return pool[rng() % pool.size()];
        double const harmonic = std::log(static_cast<double>(pool.size())) + 0.5772;
        double const u = static_cast<double>(rng() % 1000000) / 1000000.0;
        auto const rank = static_cast<std::size_t>(std::exp(u * harmonic)) - 1;
        return pool[std::min(rank, pool.size() - 1)];
    };
    int u = 0;
    for (std::size_t d = 0; d < dir_ids.size(); ++d) {
        auto const& dir = ds.directories_.at(dir_ids[d]);
        for (int k = 0; k < users_per_dir[d]; ++k, ++u) {
            UserRecord rec;
            auto const ms = tick();
            rec.id = ds.new_id("directory_user_", ms);
            rec.directory_id = dir.id;
            rec.organization_id = dir.organization_id;
            rec.idp_id = "00u" + std::to_string(1000000 + u);
            rec.first_name = first_names[rng() % std::size(first_names)];
            rec.last_name = last_names[rng() % std::size(last_names)];
            rec.email =
                rec.first_name + "." + rec.last_name + "." + std::to_string(u) + "@" + dir.domain;
            for (auto& c : *rec.email)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            rec.job_title = "Engineer";
            rec.department = group_words[rng() % std::size(group_words)];
            rec.state = rng() % 20 == 0 ? "inactive" : "active";
            rec.role = rng() % 10 == 0 ? "admin" : "member";
            rec.created_at = rec.updated_at = ds.stamp(ms);
            ds.users_[rec.id] = rec;
            ds.users_by_dir_[dir.id].insert(rec.id);
            auto const& pool = groups_per_dir[d];
            if (pool.empty() || spec.max_groups_per_user <= 0)
                continue;
            if (spec.skewed)
                ds.add_member(rec.id, pool.front());
            auto const n = rng() % static_cast<std::uint64_t>(spec.max_groups_per_user + 1);
            for (std::uint64_t j = 0; j < n; ++j)
                ds.add_member(rec.id, pick(pool));
        }
    }
    ds.generating_ = false;
    return ds;
}

void Dataset::emit_one(std::string const& type, std::string const& organization_id,
                       json::object data)
{
    auto const ms = unix_ms_now();
    EventRecord e{new_id("event_", ms), type, ms, stamp(ms), organization_id, std::move(data)};
    if (swap_event_order && !events_.empty()) {
        // Deliver it before the previous event: it takes that event's (smaller) id, and the
        // previous event the new one. Ids are what the stream is ordered by.
        std::swap(e.id, events_.back().id);
        events_.insert(events_.end() - 1, std::move(e));
        return;
    }
    events_.push_back(std::move(e));
}

void Dataset::emit(std::string const& type, std::string const& organization_id, json::object data)
{
    emit_one(type, organization_id, data);
    if (duplicate_events)
        emit_one(type, organization_id, std::move(data));
}

json::object Dataset::event_json(EventRecord const& e) const
{
    return {{"object", "event"},
            {"id", e.id},
            {"event", e.type},
            {"data", e.data},
            {"created_at", e.created_at},
            {"context", json::object{}}};
}

std::string Dataset::add_directory(std::string const& name, std::string const& organization_id)
{
    auto const ms = unix_ms_now();
    DirectoryRecord rec;
    rec.id = new_id("directory_", ms);
    rec.organization_id = organization_id.empty() ? new_id("org_", ms) : organization_id;
    rec.name = name;
    rec.domain = "new" + std::to_string(directories_.size()) + ".example";
    rec.type = "generic scim v2.0";
    rec.state = "linked";
    rec.created_at = rec.updated_at = stamp(ms);
    directories_[rec.id] = rec;
    auto data = directory_json(rec);
    data.erase("domain");
    data.erase("metadata");
    data["state"] = "active"; // the event form's vocabulary
    data["domains"] =
        json::array{json::object{{"object", "organization_domain"}, {"domain", rec.domain}}};
    emit("dsync.activated", rec.organization_id, std::move(data));
    return rec.id;
}

std::string Dataset::add_user(std::string const& directory_id, std::string const& first_name,
                              std::string const& last_name)
{
    auto const& dir = directories_.at(directory_id);
    auto const ms = unix_ms_now();
    UserRecord rec;
    rec.id = new_id("directory_user_", ms);
    rec.directory_id = dir.id;
    rec.organization_id = dir.organization_id;
    rec.idp_id = "00u" + rec.id.substr(rec.id.size() - 8);
    rec.first_name = first_name;
    rec.last_name = last_name;
    rec.email = first_name + "." + last_name + "@" + dir.domain;
    rec.job_title = "New hire";
    rec.department = "Onboarding";
    rec.created_at = rec.updated_at = stamp(ms);
    users_[rec.id] = rec;
    users_by_dir_[dir.id].insert(rec.id);
    auto data = user_json(rec, false);
    data.erase("groups");
    emit("dsync.user.created", rec.organization_id, std::move(data));
    return rec.id;
}

std::string Dataset::add_group(std::string const& directory_id, std::string const& name)
{
    auto const& dir = directories_.at(directory_id);
    auto const ms = unix_ms_now();
    GroupRecord rec;
    rec.id = new_id("directory_group_", ms);
    rec.directory_id = dir.id;
    rec.organization_id = dir.organization_id;
    rec.idp_id = "00g" + rec.id.substr(rec.id.size() - 8);
    rec.name = name;
    rec.created_at = rec.updated_at = stamp(ms);
    groups_[rec.id] = rec;
    groups_by_dir_[dir.id].insert(rec.id);
    emit("dsync.group.created", rec.organization_id, group_json(rec));
    return rec.id;
}

void Dataset::update_user(std::string const& id, std::string const& first_name,
                          std::optional<std::string> const& state)
{
    auto& u = users_.at(id);
    json::object previous{{"first_name", u.first_name}};
    if (state)
        previous["state"] = u.state;
    u.first_name = first_name;
    if (state)
        u.state = *state;
    u.updated_at = now_text();
    auto data = user_json(u, false);
    data.erase("groups");
    data["previous_attributes"] = std::move(previous);
    emit("dsync.user.updated", u.organization_id, std::move(data));
}

void Dataset::update_group(std::string const& id, std::string const& name)
{
    auto& g = groups_.at(id);
    json::object previous{{"name", g.name}};
    g.name = name;
    g.updated_at = now_text();
    auto data = group_json(g);
    data["previous_attributes"] = std::move(previous);
    emit("dsync.group.updated", g.organization_id, std::move(data));
}

void Dataset::unlink_member(std::string user_id, std::string group_id)
{
    if (groups_by_user_[user_id].erase(group_id) > 0)
        --membership_count_;
    members_by_group_[group_id].erase(user_id);
}

std::set<std::pair<std::string, std::string>> Dataset::memberships() const
{
    std::set<std::pair<std::string, std::string>> out;
    for (auto const& [user, groups] : groups_by_user_)
        for (auto const& g : groups)
            out.emplace(user, g);
    return out;
}

void Dataset::drop_user(std::string id)
{
    auto const& u = users_.at(id);
    for (auto const& g : std::set<std::string>(find_or_empty(groups_by_user_, id)))
        unlink_member(id, g);
    users_by_dir_[u.directory_id].erase(id);
    users_.erase(id);
}

void Dataset::drop_group(std::string id)
{
    auto const& g = groups_.at(id);
    for (auto const& u : std::set<std::string>(find_or_empty(members_by_group_, id)))
        unlink_member(u, id);
    groups_by_dir_[g.directory_id].erase(id);
    groups_.erase(id);
}

void Dataset::delete_user(std::string id)
{
    // No user_removed events: the memberships go with the user.
    auto data = user_json(users_.at(id), false);
    data.erase("groups");
    auto const org = users_.at(id).organization_id;
    drop_user(id);
    emit("dsync.user.deleted", org, std::move(data));
}

void Dataset::delete_group(std::string id)
{
    // No user_removed events follow a group deletion: its memberships go with it.
    auto data = group_json(groups_.at(id));
    auto const org = groups_.at(id).organization_id;
    drop_group(id);
    emit("dsync.group.deleted", org, std::move(data));
}

void Dataset::delete_directory(std::string id)
{
    if (!directories_.count(id))
        throw std::out_of_range("no directory " + id);
    // One dsync.deleted, no per-user or per-group events: everything goes with the directory.
    auto data = directory_json(directories_.at(id));
    data.erase("domain");
    data.erase("metadata");
    data.erase("external_key");
    auto const org = directories_.at(id).organization_id;
    for (auto const& g : std::set<std::string>(find_or_empty(groups_by_dir_, id)))
        drop_group(g);
    for (auto const& u : std::set<std::string>(find_or_empty(users_by_dir_, id)))
        drop_user(u);
    directories_.erase(id);
    emit("dsync.deleted", org, std::move(data));
}

void Dataset::add_member(std::string user_id, std::string group_id)
{
    if (!users_.count(user_id) || !groups_.count(group_id))
        throw std::out_of_range("add_member: unknown user or group");
    if (!groups_by_user_[user_id].insert(group_id).second)
        return;
    ++membership_count_;
    members_by_group_[group_id].insert(user_id);
    if (generating_)
        return;
    emit("dsync.group.user_added", groups_.at(group_id).organization_id,
         membership_data(user_id, group_id));
}

void Dataset::remove_member(std::string user_id, std::string group_id)
{
    if (!find_or_empty(groups_by_user_, user_id).count(group_id))
        return;
    unlink_member(user_id, group_id);
    emit("dsync.group.user_removed", groups_.at(group_id).organization_id,
         membership_data(user_id, group_id));
}

json::object Dataset::membership_data(std::string const& user_id, std::string const& group_id) const
{
    auto user = user_json(users_.at(user_id), false);
    user.erase("groups");
    return {{"directory_id", groups_.at(group_id).directory_id},
            {"user", std::move(user)},
            {"group", group_json(groups_.at(group_id))}};
}

std::set<std::string> const& Dataset::users_of_directory(std::string const& dir) const
{
    return find_or_empty(users_by_dir_, dir);
}
std::set<std::string> const& Dataset::groups_of_directory(std::string const& dir) const
{
    return find_or_empty(groups_by_dir_, dir);
}
std::set<std::string> const& Dataset::members_of_group(std::string const& group) const
{
    return find_or_empty(members_by_group_, group);
}
std::set<std::string> const& Dataset::groups_of_user(std::string const& user) const
{
    return find_or_empty(groups_by_user_, user);
}

json::object Dataset::directory_json(DirectoryRecord const& d) const
{
    json::object o;
    o["object"] = "directory";
    o["id"] = d.id;
    o["organization_id"] = d.organization_id;
    o["external_key"] = "ek_" + d.id.substr(d.id.size() - 10);
    o["type"] = d.type;
    o["state"] = d.state;
    o["name"] = d.name;
    o["domain"] = d.domain;
    o["metadata"] = {{"users", {{"active", users_of_directory(d.id).size()}, {"inactive", 0}}},
                     {"groups", groups_of_directory(d.id).size()}};
    o["created_at"] = d.created_at;
    o["updated_at"] = d.updated_at;
    return o;
}

json::object Dataset::group_json(GroupRecord const& g) const
{
    json::object o;
    o["object"] = "directory_group";
    o["id"] = g.id;
    o["idp_id"] = g.idp_id;
    o["directory_id"] = g.directory_id;
    o["organization_id"] = g.organization_id;
    o["name"] = g.name;
    o["raw_attributes"] = {{"displayName", g.name}, {"externalId", g.idp_id}};
    o["created_at"] = g.created_at;
    o["updated_at"] = g.updated_at;
    return o;
}

json::object Dataset::user_json(UserRecord const& u, bool embed_groups) const
{
    json::object o;
    o["object"] = "directory_user";
    o["id"] = u.id;
    o["directory_id"] = u.directory_id;
    o["organization_id"] = u.organization_id;
    o["idp_id"] = u.idp_id;
    if (u.email)
        o["email"] = *u.email;
    else
        o["email"] = nullptr;
    o["first_name"] = u.first_name;
    o["last_name"] = u.last_name;
    o["name"] = u.first_name + " " + u.last_name;
    json::array emails;
    if (u.email)
        emails.push_back({{"primary", true}, {"type", "work"}, {"value", *u.email}});
    o["emails"] = std::move(emails);
    o["username"] = u.email ? json::value(*u.email) : json::value(nullptr);
    o["job_title"] = u.job_title;
    o["state"] = u.state;
    o["role"] = {{"slug", u.role}};
    o["roles"] = json::array{json::object{{"slug", u.role}}};
    o["custom_attributes"] = {{"department", u.department}};
    o["raw_attributes"] = {{"schemas", json::array{"urn:ietf:params:scim:schemas:core:2.0:User"}},
                           {"active", u.state == "active"}};
    o["created_at"] = u.created_at;
    o["updated_at"] = u.updated_at;
    if (embed_groups) {
        json::array groups;
        for (auto const& gid : groups_of_user(u.id))
            groups.push_back(group_json(groups_.at(gid)));
        o["groups"] = std::move(groups);
    } else {
        o["groups"] = json::array{};
    }
    return o;
}

} // namespace fake
