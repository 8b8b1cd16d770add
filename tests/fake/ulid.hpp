// ULID-style identifiers for the fake server: prefix + 26 Crockford base32 characters, the first
// ten of which encode a millisecond time, so that sorting ids sorts by creation.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace fake {

class UlidGenerator {
public:
    explicit UlidGenerator(std::uint64_t seed)
        : rng_(seed)
    {
    }
    // Strictly increasing across calls, even within one millisecond or when `unix_ms` goes back.
    std::string next(std::string_view prefix, std::uint64_t unix_ms);

private:
    std::mt19937_64 rng_;
    std::uint64_t last_ms_ = 0;
    std::uint64_t counter_ = 0;
};

// True when `id` is `prefix` followed by 26 Crockford base32 characters.
bool is_well_formed_id(std::string_view id, std::string_view prefix);

} // namespace fake
