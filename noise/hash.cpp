#include "noise/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <memory>

namespace relay::noise {
namespace {

constexpr char digest_name[] = "BLAKE2S-256";

// Fetched once per process: an explicit fetch per call would take a lock and
// search the provider tables every time. Never freed (process lifetime).
EVP_MD const* blake2s()
{
    static EVP_MD* const md = EVP_MD_fetch(nullptr, digest_name, nullptr);
    return md;
}

EVP_MAC* hmac_algorithm()
{
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;

// out = HMAC-BLAKE2s(mac_key, a || b)
bool hmac(EVP_MAC_CTX* ctx, bytes_view mac_key, bytes_view a, bytes_view b, digest& out)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, mac_key.data(), mac_key.size(), params) != 1)
        return false;
    if (!a.empty() && EVP_MAC_update(ctx, a.data(), a.size()) != 1)
        return false;
    if (!b.empty() && EVP_MAC_update(ctx, b.data(), b.size()) != 1)
        return false;
    std::size_t len = 0;
    return EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
}

} // namespace

bool hash(bytes_view a, bytes_view b, digest& out)
{
    EVP_MD const* md = blake2s();
    if (md == nullptr)
        return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1)
        return false;
    if (!a.empty() && EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1)
        return false;
    if (!b.empty() && EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1)
        return false;
    unsigned int len = 0;
    return EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
}

bool hkdf2(digest const& chaining_key, bytes_view ikm, digest& out1, digest& out2)
{
    EVP_MAC* mac = hmac_algorithm();
    if (mac == nullptr)
        return false;
    mac_ctx_ptr ctx(EVP_MAC_CTX_new(mac), &EVP_MAC_CTX_free);
    if (!ctx)
        return false;
    static constexpr std::array<std::uint8_t, 1> one{0x01};
    static constexpr std::array<std::uint8_t, 1> two{0x02};
    digest temp{};
    bool const ok = hmac(ctx.get(), chaining_key, ikm, {}, temp) && hmac(ctx.get(), temp, one, {}, out1) &&
        hmac(ctx.get(), temp, out1, two, out2);
    OPENSSL_cleanse(temp.data(), temp.size());
    return ok;
}

} // namespace relay::noise
