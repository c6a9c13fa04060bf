#pragma once
// A finished Noise session: one CipherState per direction, each with its own
// counter from 0, no rekeying (docs/protocol.md#s9-1, §9.2 step 5).

#include "noise/cipher_state.hpp"
#include "noise/types.hpp"

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace relay::noise {

class transport final {
public:
    /// Normally obtained from initiator::split() or responder::split().
    transport(cipher_state send, cipher_state receive) noexcept : send_(std::move(send)), receive_(std::move(receive))
    {
    }
    transport(transport&&) noexcept = default;
    transport& operator=(transport&&) noexcept = default;

    /// Replaces `out` with the transport message for `plaintext` (plaintext
    /// then 16-byte tag). False, with the send counter unchanged and `out`
    /// cleared, if the plaintext exceeds max_transport_plaintext (65519 bytes):
    /// Noise messages are at most 65535 bytes.
    [[nodiscard]] bool encrypt(std::span<std::uint8_t const> plaintext, std::vector<std::uint8_t>& out);
    /// Replaces `out` with the plaintext of `ciphertext`. False, with the
    /// receive counter unchanged and `out` cleared, if the message is shorter
    /// than a tag or does not authenticate; the next genuine message still
    /// decrypts. Ciphertexts above 65535 bytes are accepted, as the Rust relay
    /// does (docs/protocol.md#s9-1). The spans must not alias `out`.
    [[nodiscard]] bool decrypt(std::span<std::uint8_t const> ciphertext, std::vector<std::uint8_t>& out);

    /// Messages sent so far (the next send nonce).
    std::uint64_t sent() const noexcept { return send_.nonce(); }
    /// Messages received so far (the next receive nonce).
    std::uint64_t received() const noexcept { return receive_.nonce(); }

private:
    cipher_state send_;
    cipher_state receive_;
};

} // namespace relay::noise
