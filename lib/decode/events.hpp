// Decoding of Events API pages (https://workos.com/docs/reference/events/list) into the model's
// events. Pure: no I/O, no logging, no clock.
#pragma once

#include "decode/decode.hpp"
#include "model/event.hpp"

#include <string_view>

namespace dirsync::decode {

// The kind of a `dsync.*` type string; EventKind::unknown for one dirsyncd does not know.
EventKind event_kind(std::string_view type);

// The document as a whole is rejected only when it is not an event list, or when an event id is
// one we could not send back as a cursor (over max_id_bytes); a bad event inside it becomes a
// RejectedEvent in its place.
Decoded<EventPage> parse_event_page(std::string_view body);

} // namespace dirsync::decode
