// Plain structs shared by every layer: what dirsyncd knows about a directory, user or group.
// No dependencies, no behaviour.
#pragma once

#include "model/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dirsync {

struct Directory {
    std::string id;
    std::optional<std::string> organization_id;
    std::optional<std::string> name;
    std::optional<std::string> domain;
    std::optional<std::string> type;
    std::string state;
    Timestamp created_at;
    Timestamp updated_at;
    std::string raw_json; // the object as the API sent it
    // `metadata` (newer API versions): how many users (active and inactive) and groups the
    // directory holds; what a full sync plans with before it lists anything.
    std::optional<std::int64_t> user_count, group_count;
};

struct User {
    std::string id;
    std::string directory_id;
    std::optional<std::string> organization_id;
    std::optional<std::string> idp_id;
    std::optional<std::string> email; // or the primary `emails[]` entry of a legacy object
    std::optional<std::string> first_name;
    std::optional<std::string> last_name;
    std::string state;               // "active" or "inactive" ("suspended" is mapped to "inactive")
    std::optional<std::string> role; // role slug
    std::optional<std::string> custom_attributes; // JSON text
    std::optional<std::string> raw_attributes;    // JSON text
    Timestamp created_at;
    Timestamp updated_at;
    std::string raw_json; // the object as sent, without its embedded "groups" array
    // Ids from the deprecated embedded "groups" array; only meaningful for legacy directories.
    std::vector<std::string> embedded_group_ids;
};

struct Group {
    std::string id;
    std::string directory_id;
    std::optional<std::string> organization_id;
    std::optional<std::string> idp_id;
    std::string name;
    std::optional<std::string> raw_attributes; // JSON text
    Timestamp created_at;
    Timestamp updated_at;
    std::string raw_json;
};

// A record of a membership listing, read for its id alone.
struct MemberRef {
    std::string id;
    std::optional<std::string> directory_id;
};

// A record of a list page that could not be decoded. `id` is set when the record at least had one,
// so that a full sync can keep the stored copy instead of treating the object as gone.
struct Rejected {
    std::string path;
    std::string reason;
    std::optional<std::string> id;
};

template <class T>
struct Page {
    std::vector<T> items;
    std::vector<Rejected> rejected;
    std::optional<std::string> after; // cursor of the next page; empty at the end
};

} // namespace dirsync
