#include "decode/events.hpp"

#include "decode/object_decoders.hpp"
#include "decode/timestamp.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <type_traits>

namespace dirsync::decode {
namespace json = boost::json;

bool is_known_event_type(std::string_view type)
{
    for (auto const* t : default_event_types)
        if (type == t)
            return true;
    return type == "dsync.deactivated" || type == "dsync.token.created" ||
           type == "dsync.token.revoked";
}

namespace {

// Update events carry `previous_attributes` next to the snapshot: keep only the snapshot.
json::object without_previous(json::object const& data)
{
    json::object copy = data;
    copy.erase("previous_attributes");
    return copy;
}

std::optional<std::string> string_field(json::object const& o, char const* key)
{
    auto const* v = o.if_contains(key);
    return v && v->is_string() ? std::optional<std::string>(v->get_string()) : std::nullopt;
}

// A snapshot event (directory, user, group): the object without `previous_attributes`, and the
// directory it belongs to.
template <class T>
std::optional<std::string> decode_snapshot(std::optional<std::string> (*decode)(json::object const&,
                                                                                T&),
                                           json::object const& data, Event& ev)
{
    T object;
    if (auto why = decode(without_previous(data), object))
        return why;
    if constexpr (std::is_same_v<T, Directory>)
        ev.directory_id = object.id;
    else
        ev.directory_id = object.directory_id;
    ev.payload = std::move(object);
    return std::nullopt;
}

// Decodes `data` for `type` into the event's payload; returns the reason it cannot.
std::optional<std::string> decode_payload(std::string const& type, json::object const& data,
                                          Event& ev)
{
    if (type == "dsync.activated" || type == "dsync.deleted" || type == "dsync.deactivated")
        return decode_snapshot(decode_directory, data, ev);
    if (type.rfind("dsync.user.", 0) == 0)
        return decode_snapshot(decode_user, data, ev);
    if (type == "dsync.group.user_added" || type == "dsync.group.user_removed") {
        auto const* user = data.if_contains("user");
        auto const* group = data.if_contains("group");
        if (user == nullptr || !user->is_object())
            return std::string("field 'user' is missing or not an object");
        if (group == nullptr || !group->is_object())
            return std::string("field 'group' is missing or not an object");
        MembershipEvent m;
        if (auto why = decode_user(user->get_object(), m.user))
            return why;
        if (auto why = decode_group(group->get_object(), m.group))
            return why;
        m.directory_id = string_field(data, "directory_id").value_or(m.group.directory_id);
        ev.directory_id = m.directory_id;
        ev.payload = std::move(m);
        return std::nullopt;
    }
    if (type.rfind("dsync.group.", 0) == 0)
        return decode_snapshot(decode_group, data, ev);
    // token events and unknown types: no effect on the mirror
    ev.directory_id = string_field(data, "directory_id");
    return std::nullopt;
}

std::optional<std::string> decode_event(json::object const& obj, Event& ev)
{
    auto const id = string_field(obj, "id");
    if (!id || id->empty())
        return std::string("event: field 'id' is missing or not a string");
    ev.id = *id;
    auto const type = string_field(obj, "event");
    if (!type)
        return fmt::format("event {}: field 'event' is missing or not a string", ev.id);
    ev.type = *type;
    auto const created = string_field(obj, "created_at");
    auto const micros = created ? parse_timestamp(*created) : std::nullopt;
    if (!micros)
        return fmt::format("event {}: field 'created_at' is missing or not a timestamp", ev.id);
    ev.created_at = {*created, *micros};
    auto const* data = obj.if_contains("data");
    if (data == nullptr || !data->is_object())
        return fmt::format("event {} ({}): field 'data' is missing or not an object", ev.id,
                           ev.type);
    if (auto why = decode_payload(ev.type, data->get_object(), ev))
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
    auto after = list_after(root, false); // informational: the cursor is the last event's id
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
        if (auto id = obj ? string_field(*obj, "id") : std::nullopt;
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
            bad.id = string_field(*obj, "id");
            bad.type = string_field(*obj, "event").value_or("");
        }
        bad.reason = std::move(*why);
        bad.raw_json = json::serialize(item);
        page.items.emplace_back(std::move(bad));
    }
    return page;
}

} // namespace dirsync::decode
