#pragma once
// Sizes and key types of Noise_NK_25519_ChaChaPoly_BLAKE2s (docs/protocol.md#s9-1).
// Everything here is fixed by the protocol name; nothing is tunable.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace relay::noise {

/// The full protocol name; its bytes seed the handshake hash, so one changed
/// character makes every handshake fail.
inline constexpr std::string_view protocol_name = "Noise_NK_25519_ChaChaPoly_BLAKE2s";

/// DHLEN of X25519: private keys, public keys and shared secrets, in bytes.
inline constexpr std::size_t dh_size = 32;
/// HASHLEN of BLAKE2s-256, in bytes.
inline constexpr std::size_t hash_size = 32;
/// ChaCha20-Poly1305 key, in bytes.
inline constexpr std::size_t cipher_key_size = 32;
/// Poly1305 tag appended to every encrypted payload, in bytes.
inline constexpr std::size_t tag_size = 16;
/// Noise caps every message at 65535 bytes (spec §3), tag included.
inline constexpr std::size_t max_message_size = 65535;
/// Largest transport plaintext: the message limit minus the tag.
inline constexpr std::size_t max_transport_plaintext = max_message_size - tag_size;
/// NK message 1 or 2 with an empty payload: an ephemeral key plus the tag of
/// the encrypted empty payload.
inline constexpr std::size_t handshake_message_size = dh_size + tag_size;

/// A raw X25519 key (private or public) or a ChaCha20-Poly1305 key.
using key = std::array<std::uint8_t, dh_size>;
/// A BLAKE2s-256 output: the chaining key and the handshake hash.
using digest = std::array<std::uint8_t, hash_size>;

/// An X25519 key pair in the order of the relay key file (docs/protocol.md#s9-3):
/// private half first, public half second.
struct key_pair {
    key private_key{};
    key public_key{};
};

} // namespace relay::noise
