#pragma once
// The Noise CipherState (spec §5.1) for ChaChaPoly: a key k and a 64-bit
// nonce n, on one reused OpenSSL cipher context.
//
// This runs once per WebSocket message in each direction, so the
// EVP_CIPHER_CTX is created once and only its nonce is reset per message; the
// ChaCha20-Poly1305 cipher is fetched once per process.

#include "noise/types.hpp"

#include <cstdint>
#include <span>
#include <vector>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace relay::noise {

class cipher_state final {
public:
    /// Without a key: encrypt/decrypt pass data through (spec §5.1), as the
    /// handshake needs before the first MixKey.
    cipher_state();
    ~cipher_state();
    cipher_state(cipher_state&& other) noexcept;
    cipher_state& operator=(cipher_state&& other) noexcept;
    cipher_state(cipher_state const&) = delete;
    cipher_state& operator=(cipher_state const&) = delete;

    /// InitializeKey(k): sets the key and n = 0. False only if OpenSSL fails.
    [[nodiscard]] bool initialize_key(key const& k);
    bool has_key() const noexcept { return has_key_; }
    /// The nonce the next encryption or decryption will use.
    std::uint64_t nonce() const noexcept { return n_; }

    /// Appends ENCRYPT(k, n++, ad, plaintext) (ciphertext then 16-byte tag) to
    /// `out`. False, with `out` and n unchanged, if the nonce is exhausted or
    /// OpenSSL fails. `plaintext` must not alias `out`.
    [[nodiscard]] bool encrypt_with_ad(std::span<std::uint8_t const> ad, std::span<std::uint8_t const> plaintext,
                                       std::vector<std::uint8_t>& out);
    /// Appends the plaintext of DECRYPT(k, n, ad, ciphertext) to `out` and
    /// increments n. On failure (short input, bad tag) returns false with `out`
    /// and n unchanged: a forged message cannot desynchronise the counter
    /// (spec §5.1). `ciphertext` must not alias `out`.
    [[nodiscard]] bool decrypt_with_ad(std::span<std::uint8_t const> ad, std::span<std::uint8_t const> ciphertext,
                                       std::vector<std::uint8_t>& out);

private:
    bool set_nonce(int encrypt);

    EVP_CIPHER_CTX* ctx_ = nullptr;
    std::uint64_t n_ = 0;
    bool has_key_ = false;
};

} // namespace relay::noise
