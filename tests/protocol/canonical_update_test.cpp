// The EncryptedUpdate fast path (canonical_update.hpp) must take the shape
// clients send and, on anything it takes, give exactly the general decoder's
// envelope; on anything else the general decoder decides.

#include "worker/protocol/array_digits.hpp"
#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/canonical_update.hpp"
#include "worker/protocol/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "frames.hpp"

using namespace relay::protocol;

namespace {

std::string const recipient(64, 'b');

std::string canonical(std::string const& version = "1", std::string const& id = "2f1c0c4e-7a51-4a7e-9d55-0b8f8f2b7a10",
                      std::string const& timestamp = "1700000000", std::string const& ciphertext = "[0,17,255,128,9]")
{
    return R"({"version":)" + version + R"(,"message_id":")" + id + R"(","timestamp":)" + timestamp +
        R"(,"payload":{"type":"EncryptedUpdate","recipient_id":")" + recipient + R"(","ciphertext":)" + ciphertext +
        "}}";
}

/// Decodes `json` with the fast paths off and on (on each byte-array
/// conversion the CPU has); the results must agree. Returns whether the
/// canonical fast path itself accepted the text.
bool agrees_with_general(std::string const& json)
{
    std::string const frame = test::frame_of(json);
    std::string const shown = json.size() > 160 ? "..." + json.substr(json.size() - 160) : json;
    detail::set_byte_array_prescan(false);
    auto const general = decode_frame(frame);
    detail::set_byte_array_prescan(true);
    bool taken = false;
    for (auto path :
         {detail::array_digits_path::scalar, detail::array_digits_path::ssse3, detail::array_digits_path::avx2}) {
        detail::limit_array_digits_path(path);
        auto const fast = decode_frame(frame);
        BOOST_TEST(general.has_value() == fast.has_value(), shown);
        if (general && fast)
            BOOST_TEST((*general == *fast), shown);
        else if (!general && !fast)
            BOOST_TEST((general.error() == fast.error()), shown);
        auto const canonical = detail::decode_canonical_update(json);
        if (canonical)
            BOOST_TEST((general && *general == *canonical), "fast path took " << shown);
        taken = canonical.has_value();
    }
    return taken;
}

} // namespace

BOOST_AUTO_TEST_SUITE(canonical_update)

BOOST_AUTO_TEST_CASE(what_clients_send_takes_the_fast_path)
{
    // The relay's own encoder writes serde's shape; so does the load generator.
    envelope e;
    e.version = 1;
    e.message_id = "2f1c0c4e-7a51-4a7e-9d55-0b8f8f2b7a10";
    e.timestamp = 1764400000;
    e.body = encrypted_update{recipient, bytes{1, 2, 3, 250}};
    std::string const json = test::json_of(encode_frame(e));
    BOOST_TEST(agrees_with_general(json));
    auto const taken = detail::decode_canonical_update(json);
    BOOST_REQUIRE(taken.has_value());
    BOOST_TEST((*taken == e));

    for (std::string v : {"0", "1", "9", "10", "255"})
        BOOST_TEST(agrees_with_general(canonical(v)), v);
    for (std::string t : {"0", "1", "1700000000", "9223372036854775807", "9999999999999999999"})
        BOOST_TEST(agrees_with_general(canonical("1", "m-1", t)), t);
    for (std::string id : {"", "x", "m-1", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}"})
        BOOST_TEST(agrees_with_general(canonical("1", id)), id);
}

BOOST_AUTO_TEST_CASE(other_shapes_are_left_to_the_general_decoder_with_the_same_verdict)
{
    std::vector<std::string> const cases = {
        // numbers the fast path does not read (some valid, some not)
        canonical("256"),
        canonical("01"),
        canonical("-1"),
        canonical("-0"),
        canonical("1.0"),
        canonical("1e0"),
        canonical("1", "m", "18446744073709551615"),
        canonical("1", "m", "18446744073709551616"),
        canonical("1", "m", "00"),
        canonical("1", "m", "01"),
        canonical("1", "m", "1.5"),
        canonical("1", "m", "-5"),
        canonical("1", "m", "12345678901234567890123"),
        // strings with escapes, non-ASCII, control characters
        canonical("1", R"(a\"b)"),
        canonical("1", R"(a\u0041)"),
        canonical("1", "caf\xc3\xa9"),
        canonical("1", "bad\xff"),
        canonical("1", "tab\there"),
        canonical("1", "nul\x01"),
        // ciphertexts the array scanner does not take
        canonical("1", "m", "1", "[]"),
        canonical("1", "m", "1", "[256]"),
        canonical("1", "m", "1", "[1, 2]"),
        canonical("1", "m", "1", "[01]"),
        canonical("1", "m", "1", R"("AQID")"),
        canonical("1", "m", "1", "null"),
        // layout
        canonical() + " ",
        " " + canonical(),
        canonical() + "x",
        canonical() + "}",
        canonical().substr(0, 150),
        R"({"message_id":"m","version":1,"timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[1]}})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"recipient_id":"r","type":"EncryptedUpdate","ciphertext":[1]}})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[1],"x":2}})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[1]},"x":2})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[1],"ciphertext":[2]}})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"type":"EncryptedUpdatex","recipient_id":"r","ciphertext":[1]}})",
        R"({"version":1,"message_id":"m","timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[1]})",
    };
    for (auto const& json : cases)
        BOOST_TEST_CONTEXT(json.substr(0, 160)) { BOOST_TEST(!agrees_with_general(json)); }
}

BOOST_AUTO_TEST_CASE(every_single_byte_edit_of_a_canonical_update_gets_the_general_verdict)
{
    // A deterministic miniature of the differential fuzzer: delete, replace
    // or insert one byte at every offset of a canonical update.
    std::string const base = canonical("7", "id-1", "42", "[3,45,200,0,99,100,255,12]");
    std::string const bytes_to_try = std::string("\"\\ 0917,:}]{[x-.e") + '\x01' + '\xc3' + '\x7f';
    std::size_t fast = 0;
    for (std::size_t at = 0; at <= base.size(); ++at) {
        if (at < base.size()) {
            std::string deleted = base;
            deleted.erase(at, 1);
            fast += agrees_with_general(deleted);
        }
        for (char c : bytes_to_try) {
            std::string inserted = base;
            inserted.insert(at, 1, c);
            fast += agrees_with_general(inserted);
            if (at < base.size() && base[at] != c) {
                std::string replaced = base;
                replaced[at] = c;
                fast += agrees_with_general(replaced);
            }
        }
    }
    // Edits inside strings and digit runs keep the canonical shape: the fast
    // path must have taken a good share of them, not stepped aside for all.
    BOOST_TEST(fast > 200u);
}

BOOST_AUTO_TEST_SUITE_END()
