// An event of the WorkOS Events API as dirsyncd understands it: what it asks of the mirror.
// Payload shapes: https://workos.com/docs/events (Directory Sync events) and the fixtures in
// tests/fixtures/python/dsync_*.json.
#pragma once

#include "model/model.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dirsync {

// The event types the mirror reacts to, decided once by the decoder.
enum class EventKind {
    directory_activated,   // dsync.activated: (re)sync the directory
    directory_deactivated, // dsync.deactivated (legacy): treated like an activation
    directory_deleted,     // dsync.deleted: the directory and everything under it are gone
    user_upserted,         // dsync.user.created / dsync.user.updated
    user_deleted,
    group_upserted, // dsync.group.created / dsync.group.updated
    group_deleted,
    membership_added, // dsync.group.user_added
    membership_removed,
    token,  // dsync.token.created / revoked: logged, no effect on the mirror
    unknown // a type dirsyncd does not know: skipped
};

// The event types dirsyncd follows by default (see config/dirsyncd.toml, event_types).
inline constexpr char const* default_event_types[] = {
    "dsync.activated",         "dsync.deleted",       "dsync.user.created",
    "dsync.user.updated",      "dsync.user.deleted",  "dsync.group.created",
    "dsync.group.updated",     "dsync.group.deleted", "dsync.group.user_added",
    "dsync.group.user_removed"};

// dsync.group.user_added / user_removed carry the user and the group.
struct MembershipEvent {
    std::string directory_id;
    User user;
    Group group;
};

// What an event carries. std::monostate: nothing (token events, unknown types).
using EventPayload = std::variant<std::monostate, Directory, User, Group, MembershipEvent>;

struct Event {
    std::string id;
    std::string type; // "dsync.user.created", ... as sent
    EventKind kind = EventKind::unknown;
    Timestamp created_at;
    std::optional<std::string> directory_id; // the directory it concerns, when it has one
    EventPayload payload;
};

// An event that could not be decoded (a poison event): it is quarantined, not applied.
struct RejectedEvent {
    std::optional<std::string> id;
    std::string type; // empty when unknown
    std::string reason;
    std::string raw_json;
};

// A page of events, in stream order. A bad event becomes a RejectedEvent in its place.
struct EventPage {
    using Item = std::variant<Event, RejectedEvent>;
    std::vector<Item> items;
    std::optional<std::string> after; // list_metadata.after as sent (informational)
};

} // namespace dirsync
