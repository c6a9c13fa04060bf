#include "noise/cipher_state.hpp"

#include "tests/noise/hex.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <vector>

// CipherState rules of the Noise spec §5.1 that the handshake relies on.

namespace relay::noise {
namespace {

using bytes = std::vector<std::uint8_t>;

key test_key() { return test::key_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"); }

} // namespace

BOOST_AUTO_TEST_SUITE(cipher_state_rules)

BOOST_AUTO_TEST_CASE(without_a_key_data_passes_through)
{
    cipher_state cs;
    BOOST_TEST(!cs.has_key());
    bytes out{9};
    bytes const data{1, 2, 3};
    BOOST_REQUIRE(cs.encrypt_with_ad(bytes{7}, data, out));
    BOOST_TEST(out == (bytes{9, 1, 2, 3})); // appended
    BOOST_REQUIRE(cs.decrypt_with_ad(bytes{7}, data, out));
    BOOST_TEST(out.size() == 7u);
    BOOST_TEST(cs.nonce() == 0u);
}

BOOST_AUTO_TEST_CASE(associated_data_is_authenticated)
{
    cipher_state sender, receiver;
    BOOST_REQUIRE(sender.initialize_key(test_key()));
    BOOST_REQUIRE(receiver.initialize_key(test_key()));
    bytes wire, plain;
    BOOST_REQUIRE(sender.encrypt_with_ad(bytes{1, 2}, bytes{42}, wire));
    BOOST_TEST(!receiver.decrypt_with_ad(bytes{1, 3}, wire, plain));
    BOOST_TEST(receiver.nonce() == 0u);
    BOOST_REQUIRE(receiver.decrypt_with_ad(bytes{1, 2}, wire, plain));
    BOOST_TEST(plain == bytes{42});
    BOOST_TEST(receiver.nonce() == 1u);
}

BOOST_AUTO_TEST_CASE(failed_decryption_leaves_output_untouched)
{
    cipher_state sender, receiver;
    BOOST_REQUIRE(sender.initialize_key(test_key()));
    BOOST_REQUIRE(receiver.initialize_key(test_key()));
    bytes wire;
    BOOST_REQUIRE(sender.encrypt_with_ad({}, bytes(100, 5), wire));
    wire[3] ^= 1;
    bytes out{1, 2, 3};
    BOOST_TEST(!receiver.decrypt_with_ad({}, wire, out));
    BOOST_TEST(out == (bytes{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(the_nonce_is_four_zero_bytes_then_the_counter_little_endian)
{
    // Encrypt at n = 1 and compare with a direct OpenSSL call on the IV
    // 00000000 0100000000000000 (spec §12.3); a big-endian counter would put
    // the 01 in the last byte instead.
    cipher_state cs;
    BOOST_REQUIRE(cs.initialize_key(test_key()));
    bytes const plaintext(40, 0x5a);
    bytes ignored, ours;
    BOOST_REQUIRE(cs.encrypt_with_ad(bytes{1}, plaintext, ignored));
    BOOST_REQUIRE(cs.encrypt_with_ad(bytes{1}, plaintext, ours));

    std::array<std::uint8_t, 12> iv{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    key const k = test_key();
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    BOOST_REQUIRE(EVP_EncryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, k.data(), iv.data()) == 1);
    bytes expected(plaintext.size() + tag_size);
    int len = 0;
    std::uint8_t const ad = 1;
    BOOST_REQUIRE(EVP_EncryptUpdate(ctx.get(), nullptr, &len, &ad, 1) == 1);
    BOOST_REQUIRE(
        EVP_EncryptUpdate(ctx.get(), expected.data(), &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1);
    BOOST_REQUIRE(EVP_EncryptFinal_ex(ctx.get(), expected.data() + plaintext.size(), &len) == 1);
    BOOST_REQUIRE(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size),
                                      expected.data() + plaintext.size()) == 1);
    BOOST_TEST(test::to_hex(ours) == test::to_hex(expected));
}

BOOST_AUTO_TEST_CASE(rekeying_resets_the_nonce)
{
    cipher_state cs;
    BOOST_REQUIRE(cs.initialize_key(test_key()));
    bytes out;
    BOOST_REQUIRE(cs.encrypt_with_ad({}, bytes{1}, out));
    BOOST_TEST(cs.nonce() == 1u);
    BOOST_REQUIRE(cs.initialize_key(test_key()));
    BOOST_TEST(cs.nonce() == 0u);
}

BOOST_AUTO_TEST_CASE(moved_from_state_has_no_key)
{
    cipher_state a;
    BOOST_REQUIRE(a.initialize_key(test_key()));
    cipher_state b(std::move(a));
    BOOST_TEST(b.has_key());
    BOOST_TEST(!a.has_key()); // NOLINT(bugprone-use-after-move): documented state
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::noise
