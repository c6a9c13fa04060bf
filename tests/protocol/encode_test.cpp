#include "worker/protocol/codec.hpp"

#include "tests/protocol/frames.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

// Byte-level properties of the encoders: the prefix, escaping, byte arrays and
// which fields are written.

namespace relay::protocol {
namespace {

using namespace test;

std::uint32_t prefix_of(std::string const& frame)
{
    BOOST_REQUIRE(frame.size() >= frame_prefix_size);
    std::uint32_t length = 0;
    for (std::size_t i = 0; i < frame_prefix_size; ++i)
        length = length << 8 | static_cast<unsigned char>(frame[i]);
    return length;
}

std::string ack_json_with_id(std::string_view envelope_id)
{
    return json_of(encode_ack(envelope_id, 1, "a", ack_status::failed));
}

} // namespace

BOOST_AUTO_TEST_SUITE(encode)

BOOST_AUTO_TEST_CASE(encode_writes_the_exact_big_endian_length)
{
    // Over 64 KiB of JSON so three of the four prefix bytes are non-zero.
    bytes const ciphertext(70000, 200);
    auto const frame = encode_delivery("b", 1, "r", ciphertext);
    BOOST_TEST(frame.size() > 0x10000u + frame_prefix_size);
    BOOST_TEST(prefix_of(frame) == frame.size() - frame_prefix_size);
    BOOST_TEST(frame[0] == '\0');
    BOOST_TEST(frame[1] != '\0');
}

BOOST_AUTO_TEST_CASE(encode_escapes_quotes_backslashes_and_control_characters)
{
    std::string const id = std::string("a\"b\\c/d\b\f\n\r\t") + '\0' + "\x01\x1f\x7f";
    BOOST_TEST(ack_json_with_id(id).starts_with(R"({"version":1,"message_id":"a\"b\\c/d\b\f\n\r\t\u0000\u0001\u001f)"
                                                "\x7f\",\"timestamp\":1,"));
}

BOOST_AUTO_TEST_CASE(encode_writes_non_ascii_utf8_verbatim)
{
    std::string const id = "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80";
    BOOST_TEST(
        ack_json_with_id(id).starts_with(std::string(R"({"version":1,"message_id":")").append(id).append("\",")));
}

BOOST_AUTO_TEST_CASE(escaped_strings_decode_back_to_the_original)
{
    std::string id;
    for (int c = 1; c < 0x80; ++c)
        id += static_cast<char>(c);
    id += std::string(1, '\0') + "\xc3\xa9";
    envelope const e{.version = 1, .message_id = id, .timestamp = 3, .body = acknowledgment{id, ack_status::stored}};
    auto const decoded = decode_frame(encode_frame(e));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST((*decoded == e));
}

BOOST_AUTO_TEST_CASE(encode_writes_bytes_as_decimal_arrays)
{
    bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<std::uint8_t>(i);
    std::string expected = "[";
    for (std::size_t i = 0; i < all.size(); ++i)
        expected += (i ? "," : "") + std::to_string(i);
    expected += "]";
    auto const json = json_of(encode_delivery("b", 1, "r", all));
    BOOST_TEST(json.ends_with(R"("ciphertext":)" + expected + "}}"));
}

BOOST_AUTO_TEST_CASE(encode_writes_an_empty_byte_array_as_brackets)
{
    BOOST_TEST(
        json_of(encode_delivery("b", 1, "r", {})) ==
        R"({"version":1,"message_id":"b","timestamp":1,"payload":{"type":"EncryptedUpdate","recipient_id":"r","ciphertext":[]}})");
}

BOOST_AUTO_TEST_CASE(encode_omits_absent_optional_fields_and_keeps_table_order)
{
    envelope e{.version = 1, .message_id = "m", .timestamp = 0, .body = handshake{.client_id = "c"}};
    BOOST_TEST(
        json_of(encode_frame(e)) ==
        R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Handshake","client_id":"c","suppress_presence":false}})");
    e.body = handshake{.client_id = "c", .routing_token = "r", .timestamp = 9};
    BOOST_TEST(
        json_of(encode_frame(e))
            .ends_with(
                R"({"type":"Handshake","client_id":"c","routing_token":"r","suppress_presence":false,"timestamp":9}})"));
    e.body = purge_request{.recovery_key_hash = "k"};
    BOOST_TEST(
        json_of(encode_frame(e))
            .ends_with(
                R"({"type":"PurgeRequest","include_device_sync":false,"include_recovery_proofs":false,"recovery_key_hash":"k"}})"));
}

BOOST_AUTO_TEST_CASE(encode_writes_the_full_range_of_integers)
{
    envelope const e{
        .version = 255, .message_id = "m", .timestamp = 18446744073709551615u, .body = device_sync_ack{"x", 0}};
    BOOST_TEST(
        json_of(encode_frame(e)) ==
        R"({"version":255,"message_id":"m","timestamp":18446744073709551615,"payload":{"type":"DeviceSyncAck","message_id":"x","synced_version":0}})");
}

BOOST_AUTO_TEST_CASE(encode_never_writes_a_sender_id_on_an_encrypted_update)
{
    auto const decoded = decode_frame(
        frame_of(envelope_json(R"({"type":"EncryptedUpdate","recipient_id":"r","sender_id":"s","ciphertext":[1]})")));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(json_of(encode_frame(*decoded)).find("sender_id") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(reencoding_an_account_revoked_drops_unknown_fields)
{
    // §7.5: the relay stores its own compact encoding of the parsed envelope.
    auto const decoded = decode_frame(
        frame_of(R"({ "payload" : {"signature":[1], "timestamp":2, "type":"AccountRevoked", "x":1,)"
                 R"( "recipient_id":"r", "sender_id":"s"}, "timestamp":3, "message_id":"m", "version":1, "y":[]})"));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(
        json_of(encode_frame(*decoded)) ==
        R"({"version":1,"message_id":"m","timestamp":3,"payload":{"type":"AccountRevoked","sender_id":"s","recipient_id":"r","timestamp":2,"signature":[1]}})");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::protocol
