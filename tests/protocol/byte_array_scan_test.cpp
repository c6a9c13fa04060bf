// The byte-array fast path (a benchmark optimisation) must decode exactly as the general
// parser does, on the inputs where they could differ.

#include "worker/protocol/array_digits.hpp"
#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

#include "frames.hpp"

using namespace relay::protocol;

namespace {

std::string update_json(std::string const& ciphertext_json, std::string const& extra = {})
{
    return test::envelope_json(R"({"type":"EncryptedUpdate","recipient_id":")" + std::string(64, 'a') +
                               R"(","ciphertext":)" + ciphertext_json + extra + "}");
}

using detail::array_digits_path;
constexpr array_digits_path all_paths[] = {array_digits_path::scalar, array_digits_path::ssse3,
                                           array_digits_path::avx2};

/// Decodes with the general parser, and with the fast path on each
/// conversion (array_digits.hpp) the CPU has; all must agree. Returns the
/// fast path's result on the fastest conversion.
boost::system::result<envelope> decode_both(std::string const& json)
{
    std::string const frame = test::frame_of(json);
    detail::set_byte_array_prescan(false);
    auto const general = decode_frame(frame);
    detail::set_byte_array_prescan(true);
    boost::system::result<envelope> fast = decode_error::bad_json;
    for (auto path : all_paths) {
        detail::limit_array_digits_path(path);
        fast = decode_frame(frame);
        BOOST_TEST(general.has_value() == fast.has_value(), json.substr(0, 200));
        if (general && fast)
            BOOST_TEST((*general == *fast));
        else if (!general && !fast)
            BOOST_TEST((general.error() == fast.error()));
    }
    return fast;
}

} // namespace

BOOST_AUTO_TEST_SUITE(byte_array_scan)

BOOST_AUTO_TEST_CASE(valid_byte_arrays_decode_the_same_with_any_whitespace)
{
    for (std::string c : {"[0]", "[255]", "[1,2,3]", "[ 1 , 2 ,\n3\t]", "[0,0,0,10,100,200,255]"}) {
        BOOST_TEST_CONTEXT(c)
        {
            auto r = decode_both(update_json(c));
            BOOST_TEST(r.has_value());
        }
    }
    auto const r = decode_both(update_json("[7, 8,9 ]"));
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(std::get<encrypted_update>(r->body).ciphertext == (bytes{7, 8, 9}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(anything_unusual_is_left_to_the_general_parser_with_the_same_verdict)
{
    for (std::string c : {"[256]",
                          "[01]",
                          "[-1]",
                          "[-0]",
                          "[1.0]",
                          "[1e2]",
                          "[1E2]",
                          "[1,]",
                          "[,1]",
                          "[]",
                          "[1 2]",
                          "[1000]",
                          "[1,[2]]",
                          "[[1],[2]]",
                          "[1,\"2\"]",
                          "[1,null]",
                          "[1,true]",
                          "[00]",
                          "[18446744073709551615]",
                          "[9999999999999999999999]",
                          "[1",
                          "[1,2"}) {
        BOOST_TEST_CONTEXT(c) { decode_both(update_json(c)); }
    }
}

BOOST_AUTO_TEST_CASE(arrays_inside_strings_and_the_placeholder_literal_are_not_touched)
{
    decode_both(update_json("[1,2]", R"(,"note":"[3,4] \" [5]")"));
    decode_both(update_json("[1,2]", R"(,"n":18446744073709551615)"));
    auto with_placeholder_in_string =
        test::envelope_json(R"({"type":"EncryptedUpdate","recipient_id":")" + std::string(64, 'a') +
                            R"(","ciphertext":[1],"x":"18446744073709551615"})");
    decode_both(with_placeholder_in_string);
}

BOOST_AUTO_TEST_CASE(the_depth_limit_is_the_same_for_byte_arrays_at_every_depth)
{
    for (int depth = 25; depth <= 36; ++depth) {
        std::string nested =
            std::string(static_cast<std::size_t>(depth), '[') + "1" + std::string(static_cast<std::size_t>(depth), ']');
        BOOST_TEST_CONTEXT("depth " << depth) { decode_both(update_json("[1]", R"(,"x":)" + nested)); }
    }
}

BOOST_AUTO_TEST_CASE(duplicate_ciphertext_keys_are_still_refused)
{
    auto const r = decode_both(update_json("[1,2]", R"(,"ciphertext":[3])"));
    BOOST_TEST(!r.has_value());
}

BOOST_AUTO_TEST_CASE(a_replaced_array_never_merges_with_a_neighbouring_token)
{
    // Regression: the codec fuzzer found "8[6]" accepted as one number by the fast path.
    for (std::string json : {"8[6]", "-[5]", "[1][2]", "[1]8", "true[1]", R"({"a":1[2]})", R"({"a":[1]"b":2})"}) {
        BOOST_TEST_CONTEXT(json) { BOOST_TEST(!decode_both(json).has_value()); }
    }
}

/// A compact array of `count` elements cycling through 1-, 2- and 3-digit
/// values, so that element boundaries fall at every offset of a 64-byte block.
std::vector<std::string> cycling_elements(std::size_t count)
{
    static constexpr char const* values[] = {"7", "42", "255", "100", "9", "10", "0", "199", "56", "250", "249", "200"};
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i)
        out.emplace_back(values[i % std::size(values)]);
    return out;
}

std::string join(std::vector<std::string> const& elements)
{
    std::string s = "[";
    for (std::size_t i = 0; i < elements.size(); ++i)
        s += (i ? "," : "") + elements[i];
    return s + "]";
}

BOOST_AUTO_TEST_CASE(compact_arrays_of_every_length_take_the_fast_path_with_the_right_bytes)
{
    // The scanner classifies 64-byte blocks; lengths 1..300 put the closing
    // bracket and every element boundary at every offset of a block.
    for (std::size_t count = 1; count <= 300; ++count) {
        auto const elements = cycling_elements(count);
        // Nested like the ciphertext of an envelope: text follows the array.
        std::string const text = R"({"p":{"c":)" + join(elements) + "}}";
        bytes expected;
        for (auto const& e : elements)
            expected.push_back(static_cast<std::uint8_t>(std::stoi(e)));
        for (auto path : all_paths) {
            detail::limit_array_digits_path(path);
            auto const scanned = detail::extract_byte_arrays(text, 32);
            BOOST_TEST_CONTEXT("count " << count << ", path " << static_cast<int>(path))
            {
                BOOST_REQUIRE(scanned.has_value());
                BOOST_REQUIRE(scanned->byte_arrays.size() == 1u);
                BOOST_TEST(scanned->byte_arrays[0] == expected, boost::test_tools::per_element());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(random_ciphertexts_decode_the_same_on_every_path)
{
    // Ciphertext bytes are uniform: every length pattern of neighbouring
    // elements turns up, at every offset.
    std::mt19937 rng(20261129);
    for (int round = 0; round < 200; ++round) {
        std::size_t const count = 1 + rng() % 3000;
        bytes blob(count);
        for (auto& b : blob)
            b = static_cast<std::uint8_t>(rng());
        std::string c = "[";
        for (std::size_t i = 0; i < count; ++i)
            c += (i ? "," : "") + std::to_string(blob[i]);
        c += "]";
        BOOST_TEST_CONTEXT("round " << round << ", " << count << " bytes")
        {
            auto const r = decode_both(update_json(c));
            BOOST_REQUIRE(r.has_value());
            BOOST_TEST(std::get<encrypted_update>(r->body).ciphertext == blob, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(defects_at_every_offset_of_a_block_get_the_general_parsers_verdict)
{
    // Each defect is checked on bit masks of 64-byte blocks, with carries from
    // one block to the next: place it at every element of a 150-element array
    // so that it straddles block boundaries too.
    for (std::string defect : {"1000", "05", "00", "256", "260", "300", "999", "", "-1", "1.5", " 7", "7 "}) {
        for (std::size_t at = 0; at < 150; ++at) {
            auto elements = cycling_elements(150);
            elements[at] = defect;
            std::string const c = join(elements);
            BOOST_TEST_CONTEXT("defect '" << defect << "' at element " << at)
            {
                auto const r = decode_both(update_json(c));
                BOOST_TEST(r.has_value() == (defect == " 7" || defect == "7 "));
            }
        }
    }
    for (std::string tail : {"[1,2,]", "[1,,2]", "[,1]"})
        BOOST_TEST_CONTEXT(tail) { BOOST_TEST(!decode_both(update_json(tail)).has_value()); }
}

BOOST_AUTO_TEST_SUITE_END()
