#include "ulid.hpp"

namespace fake {
namespace {
constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

std::string UlidGenerator::next(std::string_view prefix, std::uint64_t unix_ms)
{
    // Monotonic: never go back in time; within one millisecond, count up in the random part.
    if (unix_ms <= last_ms_) {
        unix_ms = last_ms_;
        ++counter_;
    } else {
        counter_ = 0;
    }
    last_ms_ = unix_ms;
    std::string out(prefix);
    char time_part[10];
    std::uint64_t t = unix_ms;
    for (int i = 9; i >= 0; --i) {
        time_part[i] = alphabet[t & 31];
        t >>= 5;
    }
    out.append(time_part, 10);
    // 16 characters: 8 from the counter (keeps order within a millisecond), 8 random.
    char rand_part[16];
    std::uint64_t c = counter_;
    for (int i = 7; i >= 0; --i) {
        rand_part[i] = alphabet[c & 31];
        c >>= 5;
    }
    std::uint64_t r = rng_();
    for (int i = 15; i >= 8; --i) {
        rand_part[i] = alphabet[r & 31];
        r >>= 5;
    }
    out.append(rand_part, 16);
    return out;
}

bool is_well_formed_id(std::string_view id, std::string_view prefix)
{
    if (id.size() != prefix.size() + 26 || id.substr(0, prefix.size()) != prefix)
        return false;
    for (char ch : id.substr(prefix.size()))
        if (std::string_view(alphabet).find(ch) == std::string_view::npos)
            return false;
    return true;
}

} // namespace fake
