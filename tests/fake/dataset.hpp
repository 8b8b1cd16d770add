// The fake WorkOS server's data: directories, users, groups and memberships, generated from a seed,
// changed by tests through plain method calls. Not thread-safe: FakeWorkos guards it.
#pragma once

#include "ulid.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fake {

struct DirectoryRecord {
    std::string id, organization_id, name, domain, type, state, created_at, updated_at;
};

struct UserRecord {
    std::string id, directory_id, organization_id, idp_id, first_name, last_name, job_title;
    std::optional<std::string> email;
    std::string state = "active";
    std::string role = "member";
    std::string department;
    std::string created_at, updated_at;
};

struct GroupRecord {
    std::string id, directory_id, organization_id, idp_id, name, created_at, updated_at;
};

// Timestamp forms the service has produced: "...481Z", "...+0000", "... 20:05:31.093" (no zone),
// and microseconds.
enum class TimestampStyle { iso_millis, offset_no_colon, space_no_zone, micros };

struct DatasetSpec {
    std::uint64_t seed = 1;
    int directories = 3;
    int users = 300; // in all, spread over the directories
    int groups = 30; // in all
    int max_groups_per_user = 3;
    TimestampStyle timestamps = TimestampStyle::iso_millis;
    // Shaped like real directories rather than even: directory sizes fall off as 1/rank, every
    // user is in the directory's first group ("everyone"), and the other groups a user joins (0
    // to max_groups_per_user) are picked with probability falling as 1/rank, so that a few
    // groups hold most memberships.
    bool skewed = false;
};

// One entry of the fake's append-only event log.
struct EventRecord {
    std::string id;
    std::string type;
    std::uint64_t created_ms = 0;
    std::string created_at;
    std::string organization_id;
    boost::json::object data;
};

class Dataset {
public:
    explicit Dataset(std::uint64_t seed = 1);
    static Dataset generate(DatasetSpec const& spec);

    // --- mutations: each stamps updated_at with the current time. Ids are taken by value: a
    // caller may pass a reference into the very sets a mutation changes. ---
    std::string add_directory(std::string const& name, std::string const& organization_id = "");
    std::string add_user(std::string const& directory_id, std::string const& first_name,
                         std::string const& last_name);
    std::string add_group(std::string const& directory_id, std::string const& name);
    void update_user(std::string const& id, std::string const& first_name,
                     std::optional<std::string> const& state = std::nullopt);
    void update_group(std::string const& id, std::string const& name);
    void delete_user(std::string id);
    void delete_group(std::string id);
    void delete_directory(std::string id);
    void add_member(std::string user_id, std::string group_id);
    void remove_member(std::string user_id, std::string group_id);

    // --- the event log: every mutation above appends its dsync.* event(s) ---
    std::vector<EventRecord> const& events() const { return events_; }
    boost::json::object event_json(EventRecord const& e) const;
    // Test switches: emit every event twice (a re-emission with its own id), and deliver each
    // new event before the one emitted just before it (so user_added can precede user.created).
    bool duplicate_events = false;
    bool swap_event_order = false;

    // --- reads ---
    std::map<std::string, DirectoryRecord> const& directories() const { return directories_; }
    std::map<std::string, UserRecord> const& users() const { return users_; }
    std::map<std::string, GroupRecord> const& groups() const { return groups_; }
    // Every (user, group), built on demand (tests compare it with the mirror).
    std::set<std::pair<std::string, std::string>> memberships() const;
    std::size_t membership_count() const { return membership_count_; }
    std::set<std::string> const& users_of_directory(std::string const& dir) const;
    std::set<std::string> const& groups_of_directory(std::string const& dir) const;
    std::set<std::string> const& members_of_group(std::string const& group) const;
    std::set<std::string> const& groups_of_user(std::string const& user) const;

    // JSON renderings as the REST API sends them.
    boost::json::object directory_json(DirectoryRecord const& d) const;
    boost::json::object user_json(UserRecord const& u, bool embed_groups) const;
    boost::json::object group_json(GroupRecord const& g) const;
    TimestampStyle timestamp_style = TimestampStyle::iso_millis;

    std::string now_text() const; // the current time in the dataset's timestamp style

private:
    std::string stamp(std::uint64_t unix_ms) const;
    void emit(std::string const& type, std::string const& organization_id,
              boost::json::object data);
    void emit_one(std::string const& type, std::string const& organization_id,
                  boost::json::object data);
    boost::json::object membership_data(std::string const& user_id,
                                        std::string const& group_id) const;
    void unlink_member(std::string user_id, std::string group_id);
    void drop_user(std::string id);
    void drop_group(std::string id);
    bool generating_ = false;
    std::string new_id(std::string const& prefix, std::uint64_t unix_ms);

    UlidGenerator ids_;
    std::map<std::string, DirectoryRecord> directories_;
    std::map<std::string, UserRecord> users_;
    std::map<std::string, GroupRecord> groups_;
    std::size_t membership_count_ = 0;
    std::vector<EventRecord> events_;
    std::map<std::string, std::set<std::string>> users_by_dir_, groups_by_dir_, members_by_group_,
        groups_by_user_;
};

std::uint64_t unix_ms_now();

} // namespace fake
