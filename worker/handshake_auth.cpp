#include "worker/handshake_auth.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/hex.hpp"

namespace relay::worker {
namespace {

/// Exactly `expected` bytes of hex, or nothing.
std::optional<std::vector<std::uint8_t>> hex_bytes(std::string_view text, std::size_t expected)
{
    if (text.size() != expected * 2)
        return std::nullopt;
    return decode_hex(text);
}

bool ed25519_verify(std::vector<std::uint8_t> const& key, std::span<std::uint8_t const> message,
                    std::vector<std::uint8_t> const& signature)
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()), &EVP_PKEY_free);
    if (!pkey)
        return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

} // namespace

auth_result check_handshake_auth(protocol::handshake const& h, std::uint64_t now_unix,
                                 std::array<std::uint8_t, 32>* verified_nonce)
{
    int const present =
        h.identity_public_key.has_value() + h.nonce.has_value() + h.signature.has_value() + h.timestamp.has_value();
    if (present == 0)
        return auth_result::unauthenticated;
    if (present != 4)
        return auth_result::rejected; // D-3
    auto const key = hex_bytes(*h.identity_public_key, 32);
    auto const nonce = hex_bytes(*h.nonce, 32);
    auto const signature = hex_bytes(*h.signature, 64);
    if (!key || !nonce || !signature)
        return auth_result::rejected;
    std::uint64_t const ts = *h.timestamp;
    if ((now_unix > ts ? now_unix - ts : ts - now_unix) > 60)
        return auth_result::rejected;
    std::array<std::uint8_t, 40> message{};
    std::copy(nonce->begin(), nonce->end(), message.begin());
    for (int i = 0; i < 8; ++i)
        message[32 + i] = static_cast<std::uint8_t>(ts >> (56 - 8 * i));
    if (!ed25519_verify(*key, message, *signature))
        return auth_result::rejected;
    if (to_lower_hex(*key) != h.client_id)
        return auth_result::rejected;
    if (verified_nonce)
        std::copy(nonce->begin(), nonce->end(), verified_nonce->begin());
    return auth_result::verified;
}

} // namespace relay::worker
