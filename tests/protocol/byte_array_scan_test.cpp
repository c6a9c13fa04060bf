// The byte-array fast path (issue 6) must decode exactly as the general
// parser does, on the inputs where they could differ.

#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/codec.hpp"

#include <boost/test/unit_test.hpp>

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

/// Decodes with and without the fast path; both must agree. Returns the result.
boost::system::result<envelope> decode_both(std::string const& json)
{
    std::string const frame = test::frame_of(json);
    detail::set_byte_array_prescan(false);
    auto const general = decode_frame(frame);
    detail::set_byte_array_prescan(true);
    auto fast = decode_frame(frame);
    BOOST_TEST(general.has_value() == fast.has_value(), json.substr(0, 200));
    if (general && fast)
        BOOST_TEST((*general == *fast));
    else if (!general && !fast)
        BOOST_TEST((general.error() == fast.error()));
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
    for (std::string c : {"[256]", "[01]", "[-1]", "[-0]", "[1.0]", "[1e2]", "[1E2]", "[1,]", "[,1]", "[]", "[1 2]",
                          "[1000]", "[1,[2]]", "[[1],[2]]", "[1,\"2\"]", "[1,null]", "[1,true]", "[00]",
                          "[18446744073709551615]", "[9999999999999999999999]", "[1", "[1,2"}) {
        BOOST_TEST_CONTEXT(c) { decode_both(update_json(c)); }
    }
}

BOOST_AUTO_TEST_CASE(arrays_inside_strings_and_the_placeholder_literal_are_not_touched)
{
    decode_both(update_json("[1,2]", R"(,"note":"[3,4] \" [5]")"));
    decode_both(update_json("[1,2]", R"(,"n":18446744073709551615)"));
    auto with_placeholder_in_string = test::envelope_json(R"({"type":"EncryptedUpdate","recipient_id":")" +
                                                          std::string(64, 'a') + R"(","ciphertext":[1],"x":"18446744073709551615"})");
    decode_both(with_placeholder_in_string);
}

BOOST_AUTO_TEST_CASE(the_depth_limit_is_the_same_for_byte_arrays_at_every_depth)
{
    for (int depth = 25; depth <= 36; ++depth) {
        std::string nested = std::string(static_cast<std::size_t>(depth), '[') + "1" +
                             std::string(static_cast<std::size_t>(depth), ']');
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

BOOST_AUTO_TEST_SUITE_END()
