// Decoders of single JSON objects, shared by the list, single-object and event decoders.
// Internal to lib/decode: it exposes Boost.JSON types.
#pragma once

#include "decode/decode.hpp"
#include "model/model.hpp"

#include <boost/json/fwd.hpp>
#include <boost/json/storage_ptr.hpp>

#include <optional>
#include <string>

namespace dirsync::decode {

// Each returns nullopt on success, or the reason the object was rejected, naming the field, the
// object type and the id when there is one.
std::optional<std::string> decode_directory(boost::json::object const& obj, Directory& out);
// Takes the embedded `groups` array out of `obj` (it is not part of the stored object).
std::optional<std::string> decode_user(boost::json::object& obj, User& out);
std::optional<std::string> decode_group(boost::json::object const& obj, Group& out);

// A member of `obj` that is a string; nullopt when absent or of another type.
std::optional<std::string> string_member(boost::json::object const& obj, char const* key);

// Parses `body` with our limits, its nodes allocated from `storage` (the default: the heap);
// returns the error as a DecodeError at `$`.
Decoded<boost::json::value> parse_json(std::string_view body,
                                       boost::json::storage_ptr storage = {});

// Parses a list envelope: a JSON object with a `data` array (else a DecodeError).
Decoded<boost::json::value> parse_list_document(std::string_view body,
                                                boost::json::storage_ptr storage = {});

// Whether a list envelope must carry `list_metadata`: directory, user and group lists must, event
// lists need not (their cursor is the last event's id).
enum class Metadata { required, optional };

// The `after` cursor of a list envelope, from `list_metadata` or the legacy `listMetadata`;
// nullopt at the end.
Decoded<std::optional<std::string>> list_after(boost::json::object const& root, Metadata metadata);

} // namespace dirsync::decode
