#include "decode/events.hpp"

#include "decode/object_decoders.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <type_traits>

namespace dirsync::decode {
namespace json = boost::json;

EventKind event_kind(std::string_view type)
{
    static constexpr std::pair<std::string_view, EventKind> kinds[] = {
        {"dsync.activated", EventKind::directory_activated},
        {"dsync.deactivated", EventKind::directory_deactivated},
        {"dsync.deleted", EventKind::directory_deleted},
        {"dsync.user.created", EventKind::user_upserted},
        {"dsync.user.updated", EventKind::user_upserted},
        {"dsync.user.deleted", EventKind::user_deleted},
        {"dsync.group.created", EventKind::group_upserted},
        {"dsync.group.updated", EventKind::group_upserted},
        {"dsync.group.deleted", EventKind::group_deleted},
        {"dsync.group.user_added", EventKind::membership_added},
        {"dsync.group.user_removed", EventKind::membership_removed},
        {"dsync.token.created", EventKind::token},
        {"dsync.token.revoked", EventKind::token},
    };
    for (auto const& [name, kind] : kinds)
        if (type == name)
            return kind;
    return EventKind::unknown;
}

namespace {

// Update events carry `previous_attributes` next to the snapshot: keep only the snapshot.
json::object without_previous(json::object const& data)
{
    json::object copy = data;
    copy.erase("previous_attributes");
    return copy;
}

// A snapshot event (directory, user, group): the object without `previous_attributes`, and the
// directory it belongs to.
template <class T, class Decode>
std::optional<std::string> decode_snapshot(Decode decode, json::object const& data, Event& ev)
{
    T object;
    auto snapshot = without_previous(data);
    if (auto why = decode(snapshot, object))
        return why;
    if constexpr (std::is_same_v<T, Directory>)
        ev.directory_id = object.id;
    else
        ev.directory_id = object.directory_id;
    ev.payload = std::move(object);
    return std::nullopt;
}

// Decodes `data` for the event's kind into its payload; returns the reason it cannot.
std::optional<std::string> decode_payload(json::object const& data, Event& ev)
{
    switch (ev.kind) {
    case EventKind::directory_activated:
    case EventKind::directory_deactivated:
    case EventKind::directory_deleted:
        return decode_snapshot<Directory>(
            [](json::object& o, Directory& d) { return decode_directory(o, d); }, data, ev);
    case EventKind::user_upserted:
    case EventKind::user_deleted:
        return decode_snapshot<User>([](json::object& o, User& u) { return decode_user(o, u); },
                                     data, ev);
    case EventKind::group_upserted:
    case EventKind::group_deleted:
        return decode_snapshot<Group>([](json::object& o, Group& g) { return decode_group(o, g); },
                                      data, ev);
    case EventKind::membership_added:
    case EventKind::membership_removed: {
        auto const* user = data.if_contains("user");
        auto const* group = data.if_contains("group");
        if (user == nullptr || !user->is_object())
            return std::string("field 'user' is missing or not an object");
        if (group == nullptr || !group->is_object())
            return std::string("field 'group' is missing or not an object");
        MembershipEvent m;
        auto user_copy = user->get_object();
        if (auto why = decode_user(user_copy, m.user))
            return why;
        if (auto why = decode_group(group->get_object(), m.group))
            return why;
        m.directory_id = string_member(data, "directory_id").value_or(m.group.directory_id);
        ev.directory_id = m.directory_id;
        ev.payload = std::move(m);
        return std::nullopt;
    }
    case EventKind::token:
    case EventKind::unknown:
        break;
    }
    // no effect on the mirror; the directory is kept for scope checks and the log
    ev.directory_id = string_member(data, "directory_id");
    return std::nullopt;
}

std::optional<std::string> decode_event(json::object const& obj, Event& ev)
{
    auto const id = string_member(obj, "id");
    if (!id || id->empty())
        return std::string("event: field 'id' is missing or not a string");
    ev.id = *id;
    auto const type = string_member(obj, "event");
    if (!type)
        return fmt::format("event {}: field 'event' is missing or not a string", ev.id);
    ev.type = *type;
    ev.kind = event_kind(ev.type);
    auto const created = string_member(obj, "created_at");
    auto const micros = created ? parse_timestamp(*created) : std::nullopt;
    if (!micros)
        return fmt::format("event {}: field 'created_at' is missing or not a timestamp", ev.id);
    ev.created_at = {*created, *micros};
    auto const* data = obj.if_contains("data");
    if (data == nullptr || !data->is_object())
        return fmt::format("event {} ({}): field 'data' is missing or not an object", ev.id,
                           ev.type);
    if (auto why = decode_payload(data->get_object(), ev))
        return fmt::format("event {} ({}): {}", ev.id, ev.type, *why);
    return std::nullopt;
}

} // namespace

Decoded<EventPage> parse_event_page(std::string_view body)
{
    auto doc = parse_list_document(body);
    if (!doc)
        return doc.error();
    auto const& root = doc->get_object();
    auto after = list_after(root, Metadata::optional); // informational
    if (!after)
        return after.error();
    EventPage page;
    page.after = std::move(*after);
    auto const& items = root.at("data").get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto const& item = items[i];
        Event ev;
        auto const* obj = item.if_object();
        // The event id is the stream's cursor: one we could not store or send back fails the page.
        if (auto id = obj ? string_member(*obj, "id") : std::nullopt;
            id && id->size() > max_id_bytes)
            return DecodeError{fmt::format("$.data[{}].id", i),
                               fmt::format("an event id of {} bytes, over the cap of {}",
                                           id->size(), max_id_bytes)};
        std::optional<std::string> why =
            obj ? decode_event(*obj, ev) : std::optional<std::string>("event: not an object");
        if (!why) {
            page.items.emplace_back(std::move(ev));
            continue;
        }
        RejectedEvent bad;
        if (obj) {
            bad.id = string_member(*obj, "id");
            bad.type = string_member(*obj, "event").value_or("");
        }
        bad.reason = std::move(*why);
        bad.raw_json = json::serialize(item);
        page.items.emplace_back(std::move(bad));
    }
    return page;
}

} // namespace dirsync::decode
