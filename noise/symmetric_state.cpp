#include "noise/symmetric_state.hpp"

#include "noise/hash.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace relay::noise {

symmetric_state::symmetric_state(std::string_view name)
{
    auto const* bytes = reinterpret_cast<std::uint8_t const*>(name.data());
    if (name.size() <= hash_size) {
        // Names of up to HASHLEN bytes are zero-padded, not hashed (spec §5.2).
        std::copy(bytes, bytes + name.size(), h_.begin());
        ok_ = true;
    } else {
        ok_ = hash({bytes, name.size()}, {}, h_);
    }
    ck_ = h_;
}

symmetric_state::~symmetric_state() { OPENSSL_cleanse(ck_.data(), ck_.size()); }

bool symmetric_state::mix_key(std::span<std::uint8_t const> input_key_material)
{
    digest temp_k{};
    bool const ok = hkdf2(ck_, input_key_material, ck_, temp_k) && cipher_.initialize_key(temp_k);
    OPENSSL_cleanse(temp_k.data(), temp_k.size());
    return ok;
}

bool symmetric_state::mix_hash(std::span<std::uint8_t const> data) { return hash(h_, data, h_); }

bool symmetric_state::encrypt_and_hash(std::span<std::uint8_t const> plaintext, std::vector<std::uint8_t>& out)
{
    std::size_t const start = out.size();
    if (!cipher_.encrypt_with_ad(h_, plaintext, out))
        return false;
    if (!mix_hash({out.data() + start, out.size() - start})) {
        out.resize(start);
        return false;
    }
    return true;
}

bool symmetric_state::decrypt_and_hash(std::span<std::uint8_t const> ciphertext, std::vector<std::uint8_t>& out)
{
    std::size_t const start = out.size();
    if (!cipher_.decrypt_with_ad(h_, ciphertext, out))
        return false;
    if (!mix_hash(ciphertext)) {
        out.resize(start);
        return false;
    }
    return true;
}

bool symmetric_state::split(cipher_state& first, cipher_state& second)
{
    digest k1{}, k2{};
    bool const ok = hkdf2(ck_, {}, k1, k2) && first.initialize_key(k1) && second.initialize_key(k2);
    OPENSSL_cleanse(k1.data(), k1.size());
    OPENSSL_cleanse(k2.data(), k2.size());
    return ok;
}

} // namespace relay::noise
