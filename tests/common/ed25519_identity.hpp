#pragma once
// A fresh Ed25519 identity that signs handshakes as a client does (PROTOCOL
// §5): signature over nonce (32 bytes) ‖ timestamp (u64 big-endian). Shared by
// the handler unit tests and the integration tests. OpenSSL 3, header-only.

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace relay::testing {

struct signed_auth {
    std::string identity_public_key; ///< lowercase hex, equal to the client_id
    std::string nonce;
    std::string signature;
    std::uint64_t timestamp = 0;
};

class ed25519_identity {
public:
    ed25519_identity() : key_(nullptr, &EVP_PKEY_free)
    {
        EVP_PKEY* k = nullptr;
        std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr),
                                                                        &EVP_PKEY_CTX_free);
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &k) != 1)
            throw std::runtime_error("Ed25519 key generation failed");
        key_.reset(k);
        std::size_t n = public_key_.size();
        if (EVP_PKEY_get_raw_public_key(key_.get(), public_key_.data(), &n) != 1)
            throw std::runtime_error("Ed25519 public key export failed");
    }

    std::string client_id() const { return hex(public_key_); }

    signed_auth sign(std::array<std::uint8_t, 32> const& nonce, std::uint64_t timestamp) const
    {
        std::array<std::uint8_t, 40> message{};
        std::copy(nonce.begin(), nonce.end(), message.begin());
        for (int i = 0; i < 8; ++i)
            message[32 + i] = static_cast<std::uint8_t>(timestamp >> (56 - 8 * i));
        std::array<std::uint8_t, 64> signature{};
        std::size_t sig_len = signature.size();
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
        if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
            EVP_DigestSign(ctx.get(), signature.data(), &sig_len, message.data(), message.size()) != 1)
            throw std::runtime_error("Ed25519 signing failed");
        return {client_id(), hex(nonce), hex(signature), timestamp};
    }

    template <std::size_t N>
    static std::string hex(std::array<std::uint8_t, N> const& bytes)
    {
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (auto b : bytes) {
            out.push_back(digits[b >> 4]);
            out.push_back(digits[b & 15]);
        }
        return out;
    }

private:
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
    std::array<std::uint8_t, 32> public_key_{};
};

} // namespace relay::testing
