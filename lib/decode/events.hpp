// Decoding of the Events API (spec section 5): event pages and their typed payloads. Pure.
#pragma once

#include "decode/decode.hpp"
#include "model/model.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace dirsync::decode {

// dsync.group.user_added / user_removed carry the user and the group.
struct MembershipEvent {
    std::string directory_id;
    User user;
    Group group;
};

// What an event asks of the mirror. std::monostate: nothing (token events, unknown types).
using EventPayload = std::variant<std::monostate, Directory, User, Group, MembershipEvent>;

struct Event {
    std::string id;
    std::string type; // "dsync.user.created", ...
    Timestamp created_at;
    std::optional<std::string> directory_id; // the directory it concerns, when it has one
    EventPayload payload;
};

// The event types dirsyncd follows by default (spec section 5.1).
inline constexpr char const* default_event_types[] = {
    "dsync.activated",         "dsync.deleted",       "dsync.user.created",
    "dsync.user.updated",      "dsync.user.deleted",  "dsync.group.created",
    "dsync.group.updated",     "dsync.group.deleted", "dsync.group.user_added",
    "dsync.group.user_removed"};

// True for the types whose effects dirsyncd knows (the defaults, dsync.deactivated, token events).
bool is_known_event_type(std::string_view type);

// An event that could not be decoded (a poison event): it is quarantined, not applied.
struct RejectedEvent {
    std::optional<std::string> id;
    std::string type; // empty when unknown
    std::string reason;
    std::string raw_json;
};

// A page of events, in stream order. The document as a whole is rejected only when it is not an
// event list; a bad event inside it becomes a RejectedEvent in its place.
struct EventPage {
    using Item = std::variant<Event, RejectedEvent>;
    std::vector<Item> items;
    std::optional<std::string> after; // list_metadata.after as sent (informational)
};
Decoded<EventPage> parse_event_page(std::string_view body);

} // namespace dirsync::decode
