#pragma once
// Base64url without padding (RFC 4648 §5), the form in which the relay takes
// its key from RELAY_NOISE_STATIC_KEY and shows its public key (43 characters
// for 32 bytes, docs/protocol.md#s9-4).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relay::noise {

/// Encodes without '=' padding.
std::string base64url_encode(std::span<std::uint8_t const> data);

/// Strict decoding, like the Rust relay's URL_SAFE_NO_PAD engine: only
/// A-Z a-z 0-9 '-' '_', no padding, no whitespace, no length of 4k+1, and the
/// unused low bits of the last character must be zero (so every byte string
/// has exactly one accepted spelling). Empty optional otherwise.
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

} // namespace relay::noise
