// JSON text -> model structs. Pure functions: no I/O, no logging, no clock.
#pragma once

#include "model/model.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dirsync::decode {

// Why a document could not be decoded; `path` is a JSONPath-like location ("$.data[3].id").
struct DecodeError {
    std::string path;
    std::string reason;
    std::string message() const { return path + ": " + reason; }
};

class DecodeException : public std::runtime_error {
public:
    explicit DecodeException(DecodeError const& e)
        : std::runtime_error(e.message())
    {
    }
};

// Found by ADL, so that Decoded<T>::value() throws a DecodeException with a readable message.
[[noreturn]] void throw_exception_from_error(DecodeError const& e, boost::source_location const&);

template <class T>
using Decoded = boost::system::result<T, DecodeError>;

// Limits on the documents we accept, against hostile or broken responses. A record over a limit
// is rejected like any undecodable record (the error names the field and the cap); a cursor or
// event id over its limit rejects the page.
inline constexpr std::size_t max_json_depth = 64;
inline constexpr std::size_t max_id_bytes = 256;             // ids, cursors
inline constexpr std::size_t max_text_bytes = 64 * 1024;     // names, emails, states, idp ids
inline constexpr std::size_t max_record_bytes = 1024 * 1024; // one record's JSON as stored

// A single object (GET /directories/{id}).
Decoded<Directory> parse_directory(std::string_view body);

// List pages. The document is rejected when it is not a list envelope (no `data` array, no
// `list_metadata`/`listMetadata`); a bad record inside an otherwise good page is reported in
// Page::rejected and the rest of the page is kept.
Decoded<Page<Directory>> parse_directory_page(std::string_view body);
// A membership listing (GET /directory_users?group=, GET /directory_groups?user=) read for the
// ids it names (and each record's directory, when it says): nothing else of a record is decoded.
Decoded<Page<MemberRef>> parse_member_page(std::string_view body);
Decoded<Page<User>> parse_user_page(std::string_view body);
Decoded<Page<Group>> parse_group_page(std::string_view body);

// An error response body, parsed defensively: an object with `message`/`code`/`errors`, a bare
// JSON string, or anything else (then `message` holds a cleaned-up prefix of
// the text). Never fails.
struct ErrorBody {
    std::string message;
    std::optional<std::string> code;
    std::vector<std::pair<std::string, std::string>> errors; // field, code
};
ErrorBody parse_error_body(std::string_view body);

} // namespace dirsync::decode
