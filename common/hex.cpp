#include "common/hex.hpp"

namespace relay {

bool is_hex64(std::string_view text) noexcept
{
    if (text.size() != 64)
        return false;
    for (char c : text)
        if (hex_digit_value(c) < 0)
            return false;
    return true;
}

std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view text)
{
    if (text.size() % 2 != 0)
        return std::nullopt;
    std::vector<std::uint8_t> out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int const hi = hex_digit_value(text[2 * i]), lo = hex_digit_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::string to_lower_hex(std::span<std::uint8_t const> bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

} // namespace relay
