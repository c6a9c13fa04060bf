#pragma once
// The pieces of handshake pattern NK that initiator and responder share:
//
//   <- s
//   ...
//   -> e, es
//   <- e, ee
//
// Kept apart so that both sides run literally the same token code.

#include "noise/dh.hpp"
#include "noise/symmetric_state.hpp"
#include "noise/types.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace relay::noise::nk {

/// MixHash(prologue), then the pre-message `<- s`: MixHash(responder static).
[[nodiscard]] bool initialize(symmetric_state& ss, std::span<std::uint8_t const> prologue, key const& responder_static);

/// The ephemeral key of one handshake: the injected private key of a test
/// vector, or else a fresh pair from OpenSSL's CSPRNG.
std::optional<dh_key> make_ephemeral(std::optional<key> const& fixed_private);

/// A DH token (es, ee): MixKey(DH(local, remote)), wiping the shared secret.
[[nodiscard]] bool mix_dh(symmetric_state& ss, dh_key const& local, key const& remote);

/// Handshake messages obey the same 65535-byte Noise limit as transport ones.
inline constexpr std::size_t max_handshake_payload = max_message_size - handshake_message_size;

} // namespace relay::noise::nk
