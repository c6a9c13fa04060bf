#pragma once
// Verification of the optional signed handshake (docs/protocol.md#s5) with
// OpenSSL 3's Ed25519. OpenSSL rather than libsodium because the relay already
// needs it for TLS-adjacent work later and Debian keeps it patched.

#include <array>
#include <cstdint>
#include <string_view>

#include "worker/protocol/messages.hpp"

namespace relay::worker {

enum class auth_result {
    unauthenticated, ///< no auth field present: accepted as in 1.1.0
    verified,        ///< all four fields present and valid
    rejected,        ///< partial fields (D-3), bad encoding, stale time or bad signature
};

/// Checks §5 steps 1, 2, 4 and 5. The nonce replay window (step 3) is the
/// caller's, and only for a verified handshake (D-10): `verified_nonce` gets the
/// decoded nonce then. `now_unix` is injected for the test vectors.
auth_result check_handshake_auth(protocol::handshake const& h, std::uint64_t now_unix,
                                 std::array<std::uint8_t, 32>* verified_nonce = nullptr);

} // namespace relay::worker
