#include "noise/cipher_state.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <limits>
#include <utility>

namespace relay::noise {
namespace {

// Fetched once per process (see hash.cpp); never freed.
EVP_CIPHER const* chacha20_poly1305()
{
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    return cipher;
}

// 2^64 - 1 is reserved (spec §5.1): a CipherState that reaches it is spent.
constexpr std::uint64_t nonce_limit = std::numeric_limits<std::uint64_t>::max();

// The AEAD can never output or accept more than this in one call (int lengths).
constexpr std::size_t max_aead_input = static_cast<std::size_t>(std::numeric_limits<int>::max()) - tag_size;

} // namespace

cipher_state::cipher_state() : ctx_(EVP_CIPHER_CTX_new()) {}

cipher_state::~cipher_state()
{
    // EVP_CIPHER_CTX_free cleanses the key schedule.
    EVP_CIPHER_CTX_free(ctx_);
}

cipher_state::cipher_state(cipher_state&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), n_(other.n_), has_key_(std::exchange(other.has_key_, false))
{
}

cipher_state& cipher_state::operator=(cipher_state&& other) noexcept
{
    if (this != &other) {
        EVP_CIPHER_CTX_free(ctx_);
        ctx_ = std::exchange(other.ctx_, nullptr);
        n_ = other.n_;
        has_key_ = std::exchange(other.has_key_, false);
    }
    return *this;
}

bool cipher_state::initialize_key(key const& k)
{
    has_key_ = false;
    n_ = 0;
    EVP_CIPHER const* cipher = chacha20_poly1305();
    if (ctx_ == nullptr || cipher == nullptr)
        return false;
    // Direction -1 ("unchanged"): each message sets it with its nonce.
    if (EVP_CipherInit_ex2(ctx_, cipher, k.data(), nullptr, -1, nullptr) != 1)
        return false;
    has_key_ = true;
    return true;
}

// The Noise ChaChaPoly nonce: 4 zero bytes, then n as 64-bit little-endian
// (spec §12.3). Setting only the IV keeps the key schedule and restarts Poly1305.
bool cipher_state::set_nonce(int encrypt)
{
    std::array<std::uint8_t, 12> iv{};
    for (std::size_t i = 0; i < 8; ++i)
        iv[4 + i] = static_cast<std::uint8_t>(n_ >> (8 * i));
    return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, iv.data(), encrypt, nullptr) == 1;
}

bool cipher_state::encrypt_with_ad(std::span<std::uint8_t const> ad, std::span<std::uint8_t const> plaintext,
                                   std::vector<std::uint8_t>& out)
{
    if (!has_key_) {
        out.insert(out.end(), plaintext.begin(), plaintext.end());
        return true;
    }
    if (n_ == nonce_limit || plaintext.size() > max_aead_input || ad.size() > max_aead_input)
        return false;
    if (!set_nonce(1))
        return false;
    std::size_t const start = out.size();
    out.resize(start + plaintext.size() + tag_size);
    std::uint8_t* dst = out.data() + start;
    int len = 0;
    bool ok = ad.empty() || EVP_CipherUpdate(ctx_, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
    // An empty plaintext still needs Final for the tag; Update with no data is skipped.
    ok = ok &&
        (plaintext.empty() ||
         EVP_CipherUpdate(ctx_, dst, &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1);
    int tail = 0;
    ok = ok && EVP_CipherFinal_ex(ctx_, dst + plaintext.size(), &tail) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), dst + plaintext.size()) == 1;
    if (!ok) {
        out.resize(start);
        return false;
    }
    ++n_;
    return true;
}

bool cipher_state::decrypt_with_ad(std::span<std::uint8_t const> ad, std::span<std::uint8_t const> ciphertext,
                                   std::vector<std::uint8_t>& out)
{
    if (!has_key_) {
        out.insert(out.end(), ciphertext.begin(), ciphertext.end());
        return true;
    }
    if (n_ == nonce_limit || ciphertext.size() < tag_size || ciphertext.size() > max_aead_input + tag_size ||
        ad.size() > max_aead_input)
        return false;
    if (!set_nonce(0))
        return false;
    std::size_t const body = ciphertext.size() - tag_size;
    // OpenSSL takes the expected tag as non-const; it only copies it.
    std::array<std::uint8_t, tag_size> tag{};
    std::copy(ciphertext.begin() + static_cast<std::ptrdiff_t>(body), ciphertext.end(), tag.begin());
    std::size_t const start = out.size();
    out.resize(start + body);
    std::uint8_t* dst = out.data() + start;
    int len = 0;
    bool ok = EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1;
    ok = ok && (ad.empty() || EVP_CipherUpdate(ctx_, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1);
    ok = ok && (body == 0 || EVP_CipherUpdate(ctx_, dst, &len, ciphertext.data(), static_cast<int>(body)) == 1);
    int tail = 0;
    ok = ok && EVP_CipherFinal_ex(ctx_, dst + body, &tail) == 1;
    if (!ok) {
        // Never leave unauthenticated plaintext behind, even in spare capacity.
        OPENSSL_cleanse(dst, body);
        out.resize(start);
        return false;
    }
    ++n_;
    return true;
}

} // namespace relay::noise
