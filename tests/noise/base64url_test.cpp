#include "noise/base64url.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

// Base64url without padding, as the relay key is configured and published
// (docs/protocol.md#s9-3, §9.4).

namespace relay::noise {
namespace {

std::vector<std::uint8_t> text_bytes(std::string_view s) { return {s.begin(), s.end()}; }

} // namespace

BOOST_AUTO_TEST_SUITE(base64url)

BOOST_AUTO_TEST_CASE(encodes_rfc_4648_vectors_without_padding)
{
    BOOST_TEST(base64url_encode(text_bytes("")) == "");
    BOOST_TEST(base64url_encode(text_bytes("f")) == "Zg");
    BOOST_TEST(base64url_encode(text_bytes("fo")) == "Zm8");
    BOOST_TEST(base64url_encode(text_bytes("foo")) == "Zm9v");
    BOOST_TEST(base64url_encode(text_bytes("foob")) == "Zm9vYg");
    BOOST_TEST(base64url_encode(text_bytes("fooba")) == "Zm9vYmE");
    BOOST_TEST(base64url_encode(text_bytes("foobar")) == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(uses_the_url_safe_alphabet)
{
    std::vector<std::uint8_t> const data{0xfb, 0xff, 0xbf};
    BOOST_TEST(base64url_encode(data) == "-_-_");
    auto back = base64url_decode("-_-_");
    BOOST_REQUIRE(back);
    BOOST_TEST(*back == data);
}

BOOST_AUTO_TEST_CASE(a_32_byte_key_is_43_characters)
{
    std::vector<std::uint8_t> const key(32, 0xab);
    BOOST_TEST(base64url_encode(key).size() == 43u);
    std::vector<std::uint8_t> const pair(64, 0xcd);
    BOOST_TEST(base64url_encode(pair).size() == 86u);
}

BOOST_AUTO_TEST_CASE(round_trips_every_length_up_to_100)
{
    std::mt19937 rng(7);
    for (std::size_t n = 0; n <= 100; ++n) {
        std::vector<std::uint8_t> data(n);
        for (auto& b : data)
            b = static_cast<std::uint8_t>(rng());
        auto const text = base64url_encode(data);
        BOOST_TEST(text.find('=') == std::string::npos);
        auto back = base64url_decode(text);
        BOOST_REQUIRE(back);
        BOOST_TEST(*back == data, "length " << n);
    }
}

BOOST_AUTO_TEST_CASE(rejects_padding_other_alphabets_whitespace_and_bad_lengths)
{
    BOOST_TEST(!base64url_decode("Zg=="));
    BOOST_TEST(!base64url_decode("Zm8="));
    BOOST_TEST(!base64url_decode("+/+/"));
    BOOST_TEST(!base64url_decode("Zm9v YmFy"));
    BOOST_TEST(!base64url_decode("Zm9vYmFy\n"));
    BOOST_TEST(!base64url_decode("Z"));
    BOOST_TEST(!base64url_decode("Zm9vY"));
    BOOST_TEST(base64url_decode("").has_value());
}

BOOST_AUTO_TEST_CASE(rejects_non_canonical_trailing_bits)
{
    BOOST_TEST(base64url_decode("Zg").has_value());
    BOOST_TEST(!base64url_decode("Zh")); // low 4 bits of 'h' are not zero
    BOOST_TEST(base64url_decode("Zm8").has_value());
    BOOST_TEST(!base64url_decode("Zm9")); // low 2 bits of '9' are not zero
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::noise
