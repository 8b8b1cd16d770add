// libFuzzer target: the config parser on arbitrary text. It either returns settings or throws
// SettingsError; nothing else.
#include "settings/settings.hpp"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    try {
        (void)dirsync::settings::parse_settings(
            std::string_view(reinterpret_cast<char const*>(data), size), "fuzz.toml");
    } catch (dirsync::settings::SettingsError const&) {
    }
    return 0;
}
