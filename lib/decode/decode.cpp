#include "decode/decode.hpp"

#include "decode/object_decoders.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace dirsync::decode {
namespace json = boost::json;

void throw_exception_from_error(DecodeError const& e, boost::source_location const&)
{
    throw DecodeException(e);
}

namespace {

template <class T, class DecodeOne>
Decoded<Page<T>> parse_page(std::string_view body, DecodeOne decode_one)
{
    // A page's DOM lives for this call only: take its nodes from one growing buffer instead of
    // one heap allocation each (the strings the model keeps are copied out).
    unsigned char first_block[16 * 1024];
    json::monotonic_resource arena(first_block, sizeof first_block);
    auto doc = parse_list_document(body, &arena);
    if (!doc)
        return doc.error();
    auto& root = doc->get_object();
    auto after = list_after(root, Metadata::required);
    if (!after)
        return after.error();
    Page<T> page;
    page.after = std::move(*after);

    auto& arr = root.at("data").get_array();
    page.items.reserve(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i) {
        auto* obj = arr[i].if_object();
        if (obj == nullptr) {
            page.rejected.push_back({fmt::format("$.data[{}]", i), "not an object", std::nullopt});
            continue;
        }
        T item;
        if (auto why = decode_one(*obj, item)) {
            std::optional<std::string> id;
            if (auto const* v = obj->if_contains("id"); v && v->is_string() &&
                                                        !v->get_string().empty() &&
                                                        v->get_string().size() <= max_id_bytes)
                id = std::string(v->get_string());
            page.rejected.push_back({fmt::format("$.data[{}]", i), std::move(*why), std::move(id)});
        } else {
            page.items.push_back(std::move(item));
        }
    }
    return page;
}

} // namespace

Decoded<json::value> parse_json(std::string_view body, json::storage_ptr storage)
{
    json::parse_options opts;
    opts.max_depth = max_json_depth;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, std::move(storage), opts);
    if (ec)
        return DecodeError{"$", fmt::format("invalid JSON: {}", ec.message())};
    return v;
}

std::optional<std::string> string_member(json::object const& obj, char const* key)
{
    auto const* v = obj.if_contains(key);
    return v && v->is_string() ? std::optional<std::string>(v->get_string()) : std::nullopt;
}

namespace {

// Parses `body` as a JSON object; `what` names it in the error ("a list object").
Decoded<json::value> parse_object(std::string_view body, char const* what,
                                  json::storage_ptr storage = {})
{
    auto parsed = parse_json(body, std::move(storage));
    if (parsed && !parsed->is_object())
        return DecodeError{"$", fmt::format("expected {}", what)};
    return parsed;
}

} // namespace

Decoded<json::value> parse_list_document(std::string_view body, json::storage_ptr storage)
{
    auto parsed = parse_object(body, "a list object", std::move(storage));
    if (!parsed)
        return parsed.error();
    auto const* data = parsed->get_object().if_contains("data");
    if (data == nullptr || !data->is_array())
        return DecodeError{"$.data", "expected an array"};
    return std::move(*parsed);
}

Decoded<std::optional<std::string>> list_after(json::object const& root, Metadata metadata)
{
    json::value const* meta = root.if_contains("list_metadata");
    char const* meta_key = "list_metadata";
    if (meta == nullptr) { // very old responses
        meta = root.if_contains("listMetadata");
        meta_key = "listMetadata";
    }
    if (meta == nullptr || !meta->is_object()) {
        if (metadata == Metadata::required)
            return DecodeError{"$.list_metadata", "missing or not an object"};
        return std::optional<std::string>();
    }
    auto const* after = meta->get_object().if_contains("after");
    if (after == nullptr || after->is_null())
        return std::optional<std::string>();
    if (!after->is_string())
        return DecodeError{fmt::format("$.{}.after", meta_key), "expected a string or null"};
    if (after->get_string().empty())
        return std::optional<std::string>();
    if (after->get_string().size() > max_id_bytes)
        return DecodeError{fmt::format("$.{}.after", meta_key),
                           fmt::format("a cursor of {} bytes, over the cap of {}",
                                       after->get_string().size(), max_id_bytes)};
    return std::optional<std::string>(std::string(after->get_string()));
}

Decoded<Directory> parse_directory(std::string_view body)
{
    auto parsed = parse_object(body, "a directory object");
    if (!parsed)
        return parsed.error();
    Directory d;
    if (auto why = decode_directory(parsed->get_object(), d))
        return DecodeError{"$", std::move(*why)};
    return d;
}

Decoded<Page<Directory>> parse_directory_page(std::string_view body)
{
    return parse_page<Directory>(
        body, [](json::object const& o, Directory& d) { return decode_directory(o, d); });
}

Decoded<Page<User>> parse_user_page(std::string_view body)
{
    return parse_page<User>(body, [](json::object& o, User& u) { return decode_user(o, u); });
}

Decoded<Page<Group>> parse_group_page(std::string_view body)
{
    return parse_page<Group>(body,
                             [](json::object const& o, Group& g) { return decode_group(o, g); });
}

ErrorBody parse_error_body(std::string_view body)
{
    ErrorBody out;
    auto const parsed = parse_json(body);
    if (parsed && parsed->is_string()) {
        out.message = std::string(parsed->get_string());
        return out;
    }
    if (parsed && parsed->is_object()) {
        auto const& o = parsed->get_object();
        out.message = string_member(o, "message").value_or("");
        out.code = string_member(o, "code");
        if (auto const* errs = o.if_contains("errors"); errs && errs->is_array()) {
            for (auto const& e : errs->get_array()) {
                auto const* eo = e.if_object();
                if (eo == nullptr)
                    continue;
                out.errors.emplace_back(string_member(*eo, "field").value_or(""),
                                        string_member(*eo, "code").value_or(""));
            }
        }
        return out;
    }
    // Not JSON (an HTML error page from a proxy, say): keep a short printable prefix.
    constexpr std::size_t max_len = 200;
    for (char c : body.substr(0, max_len))
        out.message.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
    return out;
}

} // namespace dirsync::decode
