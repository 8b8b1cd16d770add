// libFuzzer target: every decoder of API responses, on arbitrary bytes. They must never crash,
// hang or leak, whatever the server sends.
#include "decode/decode.hpp"
#include "decode/events.hpp"
#include "model/timestamp.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view const text(reinterpret_cast<char const*>(data), size);
    using namespace dirsync::decode;
    (void)parse_directory(text);
    (void)parse_directory_page(text);
    (void)parse_user_page(text);
    (void)parse_group_page(text);
    (void)parse_event_page(text);
    (void)parse_error_body(text);
    (void)dirsync::parse_timestamp(text);
    (void)dirsync::parse_http_date(text);
    return 0;
}
