#pragma once
// Hex helpers for the Noise tests: vectors are published as hex strings.

#include "noise/types.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::noise::test {

inline std::vector<std::uint8_t> from_hex(std::string_view text)
{
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        throw std::invalid_argument("bad hex digit");
    };
    if (text.size() % 2 != 0)
        throw std::invalid_argument("odd hex length");
    std::vector<std::uint8_t> out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::uint8_t>(nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]));
    return out;
}

inline key key_from_hex(std::string_view text)
{
    auto bytes = from_hex(text);
    if (bytes.size() != dh_size)
        throw std::invalid_argument("a key is 32 bytes");
    key out{};
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
}

template <typename Bytes>
std::string to_hex(Bytes const& bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

} // namespace relay::noise::test
