#pragma once
// The Noise hash functions for BLAKE2s (spec §4.3): HASH, and HKDF built on
// OpenSSL's HMAC with the BLAKE2S-256 digest.
//
// Everything returns false only if OpenSSL itself fails (out of memory, or a
// provider configuration without BLAKE2s); callers treat that as a failed
// handshake rather than crash a worker.

#include "noise/types.hpp"

#include <cstdint>
#include <span>

namespace relay::noise {

using bytes_view = std::span<std::uint8_t const>;

/// out = BLAKE2s-256(a || b).
[[nodiscard]] bool hash(bytes_view a, bytes_view b, digest& out);

/// HKDF(chaining_key, ikm) with two outputs, as Noise defines it:
/// temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01); out2 = HMAC(temp, out1 || 0x02).
/// This equals RFC 5869 HKDF with salt = ck and empty info. `out1` may be
/// `chaining_key` itself (MixKey overwrites ck in place).
[[nodiscard]] bool hkdf2(digest const& chaining_key, bytes_view ikm, digest& out1, digest& out2);

} // namespace relay::noise
