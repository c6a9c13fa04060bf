#pragma once
// X25519 (the Noise DH function "25519") on OpenSSL 3's EVP_PKEY.

#include "noise/types.hpp"

#include <optional>

typedef struct evp_pkey_st EVP_PKEY;

namespace relay::noise {

/// An X25519 private key imported into OpenSSL once, plus the public key that
/// the handshake hashes. Copies share the OpenSSL object (reference count), so
/// every responder can hold the relay's static key without re-importing it:
/// an import costs a scalar multiplication.
class dh_key final {
public:
    /// A fresh key pair from OpenSSL's CSPRNG; empty only if OpenSSL fails.
    static std::optional<dh_key> generate();
    /// Imports a private key and derives its public key.
    static std::optional<dh_key> from_private(key const& private_key);
    /// Imports a stored pair; the public half is used as given, not recomputed
    /// (docs/protocol.md#s9-3), so a mismatched pair makes every handshake fail.
    static std::optional<dh_key> from_pair(key_pair const& pair);

    dh_key(dh_key const& other) noexcept;
    dh_key& operator=(dh_key const& other) noexcept;
    dh_key(dh_key&& other) noexcept;
    dh_key& operator=(dh_key&& other) noexcept;
    ~dh_key();

    /// The public key mixed into the handshake and sent on the wire.
    key const& public_key() const noexcept { return public_; }
    /// Copies the private key out (for the key file); wipe it after use.
    std::optional<key> private_key() const;
    /// DH(this, peer). False when OpenSSL refuses, which includes a peer key of
    /// small order (the result would be all zeros, RFC 7748 §6.1).
    bool agree(key const& peer_public, key& shared) const;

private:
    dh_key(EVP_PKEY* pkey, key const& public_key) noexcept : pkey_(pkey), public_(public_key) {}
    /// Takes ownership of a freshly made X25519 key (null: OpenSSL failed)
    /// and pairs it with its public half.
    static std::optional<dh_key> adopt(EVP_PKEY* pkey);

    EVP_PKEY* pkey_ = nullptr;
    key public_{};
};

} // namespace relay::noise
