#include "noise/dh.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <utility>

namespace relay::noise {
namespace {

using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

std::optional<key> raw_public(EVP_PKEY* pkey)
{
    key out{};
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size())
        return std::nullopt;
    return out;
}

} // namespace

std::optional<dh_key> dh_key::adopt(EVP_PKEY* pkey)
{
    if (pkey == nullptr)
        return std::nullopt;
    auto pub = raw_public(pkey);
    if (!pub) {
        EVP_PKEY_free(pkey);
        return std::nullopt;
    }
    return dh_key{pkey, *pub};
}

std::optional<dh_key> dh_key::generate() { return adopt(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")); }

std::optional<dh_key> dh_key::from_private(key const& private_key)
{
    return adopt(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
}

std::optional<dh_key> dh_key::from_pair(key_pair const& pair)
{
    auto imported = from_private(pair.private_key);
    if (imported)
        imported->public_ = pair.public_key;
    return imported;
}

dh_key::dh_key(dh_key const& other) noexcept : pkey_(other.pkey_), public_(other.public_)
{
    if (pkey_ != nullptr)
        EVP_PKEY_up_ref(pkey_);
}

dh_key& dh_key::operator=(dh_key const& other) noexcept
{
    if (this != &other) {
        dh_key copy(other);
        *this = std::move(copy);
    }
    return *this;
}

dh_key::dh_key(dh_key&& other) noexcept : pkey_(std::exchange(other.pkey_, nullptr)), public_(other.public_) {}

dh_key& dh_key::operator=(dh_key&& other) noexcept
{
    if (this != &other) {
        EVP_PKEY_free(pkey_);
        pkey_ = std::exchange(other.pkey_, nullptr);
        public_ = other.public_;
    }
    return *this;
}

dh_key::~dh_key()
{
    // EVP_PKEY_free cleanses the private key when the last reference goes.
    EVP_PKEY_free(pkey_);
}

std::optional<key> dh_key::private_key() const
{
    key out{};
    std::size_t len = out.size();
    if (pkey_ == nullptr || EVP_PKEY_get_raw_private_key(pkey_, out.data(), &len) != 1 || len != out.size()) {
        OPENSSL_cleanse(out.data(), out.size());
        return std::nullopt;
    }
    return out;
}

bool dh_key::agree(key const& peer_public, key& shared) const
{
    if (pkey_ == nullptr)
        return false;
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> peer(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()), &EVP_PKEY_free);
    if (!peer)
        return false;
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr), &EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1)
        return false;
    std::size_t len = shared.size();
    if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size()) {
        OPENSSL_cleanse(shared.data(), shared.size());
        return false;
    }
    return true;
}

} // namespace relay::noise
