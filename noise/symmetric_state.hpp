#pragma once
// The Noise SymmetricState (spec §5.2): chaining key, handshake hash and the
// handshake's CipherState.

#include "noise/cipher_state.hpp"
#include "noise/types.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace relay::noise {

class symmetric_state final {
public:
    /// InitializeSymmetric(protocol_name); check ok() before use.
    explicit symmetric_state(std::string_view name);
    ~symmetric_state();
    symmetric_state(symmetric_state&&) noexcept = default;
    symmetric_state& operator=(symmetric_state&&) noexcept = default;

    /// False if OpenSSL could not hash the protocol name.
    bool ok() const noexcept { return ok_; }

    [[nodiscard]] bool mix_key(std::span<std::uint8_t const> input_key_material);
    [[nodiscard]] bool mix_hash(std::span<std::uint8_t const> data);
    /// Appends EncryptWithAd(h, plaintext) to `out`, then MixHash(ciphertext).
    [[nodiscard]] bool encrypt_and_hash(std::span<std::uint8_t const> plaintext, std::vector<std::uint8_t>& out);
    /// Appends DecryptWithAd(h, ciphertext) to `out`, then MixHash(ciphertext).
    [[nodiscard]] bool decrypt_and_hash(std::span<std::uint8_t const> ciphertext, std::vector<std::uint8_t>& out);
    /// Split(): the initiator-to-responder cipher first. False if OpenSSL fails.
    [[nodiscard]] bool split(cipher_state& first, cipher_state& second);

    /// The handshake hash h, for channel binding and the test vectors.
    digest const& handshake_hash() const noexcept { return h_; }

private:
    digest ck_{};
    digest h_{};
    cipher_state cipher_;
    bool ok_ = false;
};

} // namespace relay::noise
