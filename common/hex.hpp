#pragma once
// Hex text as the protocol uses it: keys, nonces, signatures and UUIDs.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relay {

/// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
constexpr int hex_digit_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// True for exactly 64 characters of 0-9, a-f or A-F (docs/protocol.md#s1 "hex64").
bool is_hex64(std::string_view text) noexcept;

/// The bytes of an even-length hex string (either case); empty optional if
/// the length is odd or a character is not a hex digit.
std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view text);

/// Lowercase hex, two digits per byte.
std::string to_lower_hex(std::span<std::uint8_t const> bytes);

} // namespace relay
