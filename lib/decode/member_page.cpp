// A membership listing (the users of a group, the groups of a user) read for the ids it names,
// with Boost.JSON's SAX parser: no DOM is built, and a record's other fields are not looked at
// (its copy in the mirror comes from the directory's own listing).
#include "decode/decode.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <fmt/format.h>

namespace dirsync::decode {
namespace json = boost::json;
using boost::system::error_code;

namespace {

// Containers open: 1 the list object, 2 `data` (or `list_metadata`), 3 a record.
class MemberPageHandler {
public:
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }

    bool on_object_begin(error_code&)
    {
        open(Kind::object);
        return true;
    }
    bool on_array_begin(error_code&)
    {
        open(Kind::array);
        return true;
    }
    bool on_object_end(std::size_t, error_code&)
    {
        close();
        return true;
    }
    bool on_array_end(std::size_t, error_code&)
    {
        close();
        return true;
    }

    bool on_key_part(json::string_view s, std::size_t, error_code&)
    {
        key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, error_code&)
    {
        // A key comes in one piece unless it crosses the end of a buffer: copy only then.
        std::string_view key(s.data(), s.size());
        if (!key_.empty())
            key = key_.append(key);
        if (depth_ == 1)
            root_key_ = key;
        else if (depth_ == 2 && in_ == In::metadata)
            meta_key_ = key;
        else if (depth_ == 3 && in_ == In::data)
            record_key_ = key == "id"             ? RecordKey::id
                          : key == "directory_id" ? RecordKey::directory_id
                                                  : RecordKey::other;
        key_.clear();
        return true;
    }

    bool on_string_part(json::string_view s, std::size_t, error_code&)
    {
        if (capturing())
            text_.append(s.data(), s.size());
        return true;
    }
    bool on_string(json::string_view s, std::size_t, error_code&)
    {
        if (capturing()) {
            text_.append(s.data(), s.size());
            take_string(std::move(text_));
        } else {
            scalar();
        }
        text_.clear();
        return true;
    }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, error_code&) { return scalar(); }
    bool on_uint64(std::uint64_t, json::string_view, error_code&) { return scalar(); }
    bool on_double(double, json::string_view, error_code&) { return scalar(); }
    bool on_bool(bool, error_code&) { return scalar(); }
    bool on_null(error_code&)
    {
        if (depth_ == 2 && in_ == In::metadata && meta_key_ == "after")
            meta().after_null = true;
        return scalar();
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }

    // The page, or why the document is not a list of the expected shape.
    Decoded<Page<MemberRef>> result()
    {
        if (!root_object_)
            return DecodeError{"$", "expected a list object"};
        if (!data_array_)
            return DecodeError{"$.data", "expected an array"};
        auto const* m = metadata_[0].seen ? &metadata_[0] : &metadata_[1];
        char const* name = m == &metadata_[0] ? "list_metadata" : "listMetadata";
        if (!m->seen || !m->object)
            return DecodeError{"$.list_metadata", "missing or not an object"};
        if (m->bad_after)
            return DecodeError{fmt::format("$.{}.after", name), "expected a string or null"};
        if (m->after && m->after->size() > max_id_bytes)
            return DecodeError{fmt::format("$.{}.after", name),
                               fmt::format("a cursor of {} bytes, over the cap of {}",
                                           m->after->size(), max_id_bytes)};
        if (m->after && !m->after->empty())
            page_.after = std::move(m->after);
        return std::move(page_);
    }

private:
    enum class Kind { object, array };
    enum class In { none, data, metadata, other };
    enum class RecordKey { other, id, directory_id }; // the record fields read
    struct Metadata {
        bool seen = false, object = false, bad_after = false, after_null = false;
        std::optional<std::string> after;
    };

    Metadata& meta() { return metadata_[root_key_ == "list_metadata" ? 0 : 1]; }
    bool capturing() const
    {
        return (depth_ == 3 && in_ == In::data && record_object_ &&
                record_key_ != RecordKey::other) ||
               (depth_ == 2 && in_ == In::metadata && meta_key_ == "after");
    }

    void open(Kind kind)
    {
        ++depth_;
        if (depth_ == 1) {
            root_object_ = kind == Kind::object;
        } else if (depth_ == 2) {
            in_ = root_key_ == "data"                                           ? In::data
                  : root_key_ == "list_metadata" || root_key_ == "listMetadata" ? In::metadata
                                                                                : In::other;
            if (in_ == In::data)
                data_array_ = kind == Kind::array;
            if (in_ == In::metadata)
                meta() = {true, kind == Kind::object, false, false, std::nullopt};
        } else if (depth_ == 3 && in_ == In::data) {
            begin_record(kind == Kind::object);
        } else if (depth_ == 3 && in_ == In::metadata && meta_key_ == "after") {
            meta().bad_after = true;
        }
    }

    void close()
    {
        if (depth_ == 3 && in_ == In::data)
            end_record();
        if (depth_ == 2)
            in_ = In::none;
        --depth_;
    }

    // A scalar where a container was expected: a record that is not an object, `data` or
    // `list_metadata` of the wrong type, `after` not a string.
    bool scalar()
    {
        if (depth_ == 1 && root_key_ == "data")
            data_array_ = false;
        else if (depth_ == 1 && (root_key_ == "list_metadata" || root_key_ == "listMetadata"))
            meta() = {true, false, false, false, std::nullopt};
        else if (depth_ == 2 && in_ == In::data) {
            begin_record(false);
            end_record();
        } else if (depth_ == 2 && in_ == In::metadata && meta_key_ == "after" && !meta().after_null)
            meta().bad_after = true;
        return true;
    }

    void take_string(std::string value)
    {
        if (depth_ == 2) {
            meta().after = std::move(value);
            return;
        }
        if (record_key_ == RecordKey::id)
            record_.id = std::move(value), record_has_id_ = true;
        else
            record_.directory_id = std::move(value);
    }

    void begin_record(bool is_object)
    {
        record_ = {};
        record_object_ = is_object;
        record_has_id_ = false;
        record_key_ = RecordKey::other;
    }

    void end_record()
    {
        auto const index = index_++;
        auto const reject = [&](std::string why) {
            page_.rejected.push_back(
                {fmt::format("$.data[{}]", index), std::move(why), std::nullopt});
        };
        if (!record_object_)
            reject("not an object");
        else if (!record_has_id_ || record_.id.empty())
            reject("field 'id' is missing or not a string");
        else if (record_.id.size() > max_id_bytes)
            reject(fmt::format("field 'id' is {} bytes long, over the cap of {}", record_.id.size(),
                               max_id_bytes));
        else
            page_.items.push_back(std::move(record_));
    }

    std::size_t depth_ = 0, index_ = 0;
    In in_ = In::none;
    bool root_object_ = false, data_array_ = false, record_object_ = false, record_has_id_ = false;
    std::string key_, text_, root_key_, meta_key_;
    RecordKey record_key_ = RecordKey::other;
    MemberRef record_;
    Metadata metadata_[2]; // list_metadata, listMetadata
    Page<MemberRef> page_;
};

} // namespace

Decoded<Page<MemberRef>> parse_member_page(std::string_view body)
{
    json::parse_options opts;
    opts.max_depth = max_json_depth;
    json::basic_parser<MemberPageHandler> parser(opts);
    error_code ec;
    parser.write_some(false, body.data(), body.size(), ec);
    if (ec)
        return DecodeError{"$", fmt::format("invalid JSON: {}", ec.message())};
    return parser.handler().result();
}

} // namespace dirsync::decode
