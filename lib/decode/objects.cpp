// Decoders of single directory, user and group objects: every field the mirror stores, with
// the caps on their lengths; the first problem found names the field, the object type and the id.
#include "decode/object_decoders.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace dirsync::decode {
namespace json = boost::json;

namespace {

// Reads the fields of one object, remembering the first problem in a message that names the
// field, the object type and (once known) the id.
class FieldReader {
public:
    FieldReader(json::object const& obj, char const* type)
        : obj_(obj)
        , type_(type)
    {
    }

    // Absent or null -> nullopt; a string of at most `cap` bytes -> its value; anything else is
    // an error.
    std::optional<std::string> optional_string(char const* key, std::size_t cap = max_text_bytes)
    {
        auto const* v = obj_.if_contains(key);
        if (v == nullptr || v->is_null())
            return std::nullopt;
        return string_value(key, *v, cap);
    }

    std::string required_string(char const* key, std::size_t cap = max_text_bytes)
    {
        auto const* v = obj_.if_contains(key);
        if (v == nullptr || v->is_null()) {
            fail(key, "is missing");
            return {};
        }
        return string_value(key, *v, cap).value_or("");
    }

    std::optional<std::string> optional_id(char const* key)
    {
        return optional_string(key, max_id_bytes);
    }
    std::string required_id(char const* key) { return required_string(key, max_id_bytes); }

    Timestamp required_timestamp(char const* key)
    {
        auto text = required_string(key);
        if (error_)
            return {};
        auto micros = parse_timestamp(text);
        if (!micros) {
            fail(key, fmt::format("is not a timestamp ('{}')", text));
            return {};
        }
        return {std::move(text), *micros};
    }

    // A JSON object or array member kept as JSON text; absent or null -> nullopt.
    std::optional<std::string> optional_json(char const* key)
    {
        auto const* v = obj_.if_contains(key);
        if (v == nullptr || v->is_null())
            return std::nullopt;
        if (!v->is_object() && !v->is_array()) {
            fail(key, "is not an object");
            return std::nullopt;
        }
        return json::serialize(*v);
    }

    // The record as stored: its JSON text, within max_record_bytes.
    std::string record_json(json::object const& obj)
    {
        auto text = json::serialize(obj);
        if (text.size() > max_record_bytes)
            fail(nullptr, fmt::format("is {} bytes long, over the cap of {}", text.size(),
                                      max_record_bytes));
        return text;
    }

    void set_id(std::string const& id) { id_ = id; }
    void fail(char const* key, std::string const& why)
    {
        if (error_)
            return;
        auto const what = key ? fmt::format("field '{}' {}", key, why) : "the record " + why;
        error_ = id_.empty() ? fmt::format("{}: {}", type_, what)
                             : fmt::format("{} {}: {}", type_, id_, what);
    }
    std::optional<std::string> const& error() const { return error_; }

private:
    std::optional<std::string> string_value(char const* key, json::value const& v, std::size_t cap)
    {
        auto const* s = v.if_string();
        if (s == nullptr) {
            fail(key, "is not a string");
            return std::nullopt;
        }
        if (s->size() > cap) {
            fail(key, fmt::format("is {} bytes long, over the cap of {}", s->size(), cap));
            return std::nullopt;
        }
        return std::string(*s);
    }

    json::object const& obj_;
    char const* type_;
    std::string id_;
    std::optional<std::string> error_;
};

std::optional<std::string> primary_email(json::object const& obj)
{
    // Legacy objects have no `email`: the API documents the primary `emails[]` entry as its value.
    auto const* emails = obj.if_contains("emails");
    if (emails == nullptr || !emails->is_array())
        return std::nullopt;
    for (auto const& e : emails->get_array()) {
        auto const* eo = e.if_object();
        if (eo == nullptr)
            continue;
        auto const* primary = eo->if_contains("primary");
        auto value = string_member(*eo, "value");
        if (primary && primary->is_bool() && primary->get_bool() && value &&
            value->size() <= max_text_bytes)
            return value;
    }
    return std::nullopt;
}

} // namespace

// A count in `metadata`, or nullopt when it is absent or not a non-negative integer: the metadata
// only helps plan, so a malformed one is ignored, never a reason to reject the directory.
std::optional<std::int64_t> count_of(json::value const* v)
{
    if (v == nullptr)
        return std::nullopt;
    if (auto const* i = v->if_int64(); i && *i >= 0)
        return *i;
    if (auto const* u = v->if_uint64(); u && *u < (std::uint64_t{1} << 62))
        return static_cast<std::int64_t>(*u);
    return std::nullopt;
}

void read_metadata(json::object const& obj, Directory& out)
{
    out.user_count.reset();
    out.group_count.reset();
    auto const* meta = obj.if_contains("metadata");
    if (meta == nullptr || !meta->is_object())
        return;
    auto const& m = meta->get_object();
    if (auto const* users = m.if_contains("users"); users && users->is_object()) {
        auto const active = count_of(users->get_object().if_contains("active"));
        auto const inactive = count_of(users->get_object().if_contains("inactive"));
        if (active || inactive)
            out.user_count = active.value_or(0) + inactive.value_or(0);
    }
    out.group_count = count_of(m.if_contains("groups"));
}

std::optional<std::string> decode_directory(json::object const& obj, Directory& out)
{
    FieldReader r(obj, "directory");
    out.id = r.required_id("id");
    r.set_id(out.id);
    out.organization_id = r.optional_id("organization_id");
    out.name = r.optional_string("name");
    out.domain = r.optional_string("domain");
    if (!out.domain) {
        // event form: no `domain` string, but a `domains` array
        if (auto const* domains = obj.if_contains("domains"); domains && domains->is_array()) {
            for (auto const& d : domains->get_array())
                if (auto const* dom = d.if_object();
                    dom && dom->contains("domain") && dom->at("domain").is_string()) {
                    out.domain = std::string(dom->at("domain").get_string());
                    break;
                }
        }
    }
    out.type = r.optional_string("type");
    read_metadata(obj, out);
    out.state = r.required_string("state");
    out.created_at = r.required_timestamp("created_at");
    out.updated_at = r.required_timestamp("updated_at");
    out.raw_json = r.record_json(obj);
    return r.error();
}

// The fields every user and group starts with: its id, its directory, organization and IdP id.
template <class T>
void read_identity(FieldReader& r, T& out)
{
    out.id = r.required_id("id");
    r.set_id(out.id);
    out.directory_id = r.required_id("directory_id");
    out.organization_id = r.optional_id("organization_id");
    out.idp_id = r.optional_string("idp_id");
}

std::optional<std::string> decode_user(json::object& obj, User& out)
{
    FieldReader r(obj, "directory_user");
    read_identity(r, out);
    out.email = r.optional_string("email");
    if (!out.email)
        out.email = primary_email(obj);
    out.first_name = r.optional_string("first_name");
    out.last_name = r.optional_string("last_name");
    out.state = r.required_string("state");
    if (out.state == "suspended") // existed until Dec 2023
        out.state = "inactive";
    out.role.reset();
    if (auto const* role = obj.if_contains("role"); role && !role->is_null()) {
        auto const* ro = role->if_object();
        auto const* slug = ro ? ro->if_contains("slug") : nullptr;
        if (slug == nullptr || !slug->is_string() || slug->get_string().size() > max_id_bytes)
            r.fail("role", "is not an object with a string 'slug'");
        else
            out.role = std::string(slug->get_string());
    }
    out.custom_attributes = r.optional_json("custom_attributes");
    out.raw_attributes = r.optional_json("raw_attributes");
    out.created_at = r.required_timestamp("created_at");
    out.updated_at = r.required_timestamp("updated_at");

    out.embedded_group_ids.clear();
    auto const* groups = obj.if_contains("groups");
    if (groups && !groups->is_null()) {
        if (!groups->is_array()) {
            r.fail("groups", "is not an array");
        } else {
            for (auto const& g : groups->get_array()) {
                auto const* go = g.if_object();
                auto const* gid = go ? go->if_contains("id") : nullptr;
                if (gid == nullptr || !gid->is_string() ||
                    gid->get_string().size() > max_id_bytes) {
                    r.fail("groups", fmt::format("has an entry without a string 'id' of at most "
                                                 "{} bytes",
                                                 max_id_bytes));
                    break;
                }
                out.embedded_group_ids.emplace_back(gid->get_string());
            }
        }
    }
    if (groups != nullptr)
        obj.erase("groups"); // not part of the object as stored (deprecated, and unreliable)
    out.raw_json = r.record_json(obj);
    return r.error();
}

std::optional<std::string> decode_group(json::object const& obj, Group& out)
{
    FieldReader r(obj, "directory_group");
    read_identity(r, out);
    out.name = r.required_string("name");
    out.raw_attributes = r.optional_json("raw_attributes");
    out.created_at = r.required_timestamp("created_at");
    out.updated_at = r.required_timestamp("updated_at");
    out.raw_json = r.record_json(obj);
    return r.error();
}

} // namespace dirsync::decode
