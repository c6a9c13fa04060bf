#pragma once
// Hex helpers for the Noise tests: vectors are published as hex strings.

#include "common/hex.hpp"
#include "noise/types.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::noise::test {

/// The published vectors are hex: a bad one is a broken test, so it throws.
inline std::vector<std::uint8_t> from_hex(std::string_view text)
{
    auto bytes = relay::decode_hex(text);
    if (!bytes)
        throw std::invalid_argument("not an even-length hex string");
    return *bytes;
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
    return relay::to_lower_hex(std::span<std::uint8_t const>(bytes.data(), bytes.size()));
}

} // namespace relay::noise::test
