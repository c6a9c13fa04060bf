#include "worker/protocol/codec.hpp"

#include "tests/protocol/frames.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

// Strictness of decode_frame (docs/protocol.md#s3-1, §3.2): which inputs are
// undecodable, and with which error.

namespace relay::protocol {
namespace {

using namespace test;

constexpr std::string_view hex64 = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

// A table row: a payload (as JSON) and the outcome it must have.
struct payload_case {
    std::string json;
    std::string expected;
};

void check_payload_cases(std::vector<payload_case> const& cases)
{
    for (auto const& c : cases)
        BOOST_TEST_CONTEXT(c.json) { BOOST_TEST(payload_outcome(c.json) == c.expected); }
}

// A valid envelope (DeviceSyncAck payload) with field `key` set to the JSON
// text `value`, or removed when `value` is empty.
std::string build_envelope(std::string_view key, std::optional<std::string_view> value)
{
    std::vector<std::pair<std::string_view, std::string_view>> const fields{
        {"version", "1"},
        {"message_id", R"("m")"},
        {"timestamp", "5"},
        {"payload", R"({"type":"DeviceSyncAck","message_id":"x","synced_version":1})"}};
    std::string json = "{";
    for (auto [k, v] : fields) {
        if (k == key) {
            if (!value)
                continue;
            v = *value;
        }
        if (json.size() > 1)
            json += ',';
        json.append("\"").append(k).append("\":").append(v);
    }
    return json + "}";
}

std::string envelope_with(std::string_view key, std::string_view value) { return build_envelope(key, value); }

std::string envelope_without(std::string_view key) { return build_envelope(key, std::nullopt); }

std::string valid_envelope() { return build_envelope({}, std::nullopt); }

/// A valid envelope with extra members (JSON text, e.g. `"x":1`) appended.
std::string valid_envelope_plus(std::string_view members)
{
    auto json = valid_envelope();
    json.insert(json.size() - 1, std::string(",").append(members));
    return json;
}

/// An EncryptedUpdate frame whose ciphertext field is `ciphertext`, verbatim.
std::string update(std::string_view ciphertext)
{
    return std::string(R"({"type":"EncryptedUpdate","recipient_id":"r","ciphertext":)").append(ciphertext).append("}");
}

} // namespace

BOOST_AUTO_TEST_SUITE(decode)

BOOST_AUTO_TEST_CASE(decode_rejects_frame_shorter_than_four_bytes)
{
    for (std::size_t n = 0; n < frame_prefix_size; ++n)
        BOOST_TEST(outcome_of_frame(std::string(n, '\0')) == "too_short");
    BOOST_TEST(outcome_of_frame("{}}") == "too_short");
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_bare_prefix_with_no_json)
{
    BOOST_TEST(outcome_of_frame(frame_of("")) == "bad_json");
}

BOOST_AUTO_TEST_CASE(decode_ignores_a_length_prefix_that_disagrees_with_the_length)
{
    auto const json = valid_envelope();
    for (std::int64_t prefix : {0LL, 1LL, 0xffffffffLL, static_cast<long long>(json.size()) + 1})
        BOOST_TEST(outcome_of_frame(frame_of(json, prefix)) == "ok");
}

BOOST_AUTO_TEST_CASE(decode_accepts_whitespace_around_the_json)
{
    BOOST_TEST(outcome(" \n\t" + valid_envelope() + "\r\n ") == "ok");
}

BOOST_AUTO_TEST_CASE(decode_rejects_trailing_bytes_after_the_json)
{
    auto const json = valid_envelope();
    BOOST_TEST(outcome(json + "x") == "bad_json");
    BOOST_TEST(outcome(json + " {}") == "bad_json");
    BOOST_TEST(outcome(json + json) == "bad_json");
    BOOST_TEST(outcome(json + std::string(1, '\0')) == "bad_json");
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_json)
{
    for (std::string_view json : {"{", "{\"version\":1,}", "{'version':1}", "nul", "{\"a\" 1}", "// c\n{}",
                                  "{\"a\":01}", "{\"a\":+1}", "{\"a\":NaN}"})
        BOOST_TEST_CONTEXT(json) { BOOST_TEST(outcome(json) == "bad_json"); }
}

BOOST_AUTO_TEST_CASE(decode_rejects_invalid_utf8)
{
    BOOST_TEST(outcome(envelope_with("message_id", "\"\xff\"")) == "bad_json");
    BOOST_TEST(outcome(envelope_with("message_id", "\"\xc3\"")) == "bad_json");         // truncated
    BOOST_TEST(outcome(envelope_with("message_id", "\"\xed\xa0\x80\"")) == "bad_json"); // surrogate
    BOOST_TEST(outcome(envelope_with("message_id", R"("\ud800")")) == "bad_json");      // lone escape
    BOOST_TEST(outcome(envelope_with("message_id", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"")) == "ok");
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_document_that_is_not_an_object)
{
    for (std::string_view json : {"[]", "1", R"("s")", "null", "true"})
        BOOST_TEST_CONTEXT(json) { BOOST_TEST(outcome(json) == "not_an_object"); }
}

BOOST_AUTO_TEST_CASE(decode_rejects_deep_nesting_without_crashing)
{
    std::string const deep = std::string(100000, '[') + std::string(100000, ']');
    BOOST_TEST(outcome(valid_envelope_plus("\"extra\":" + deep)) == "too_deep");
    std::string const objects = [] {
        std::string s;
        for (int i = 0; i < 100000; ++i)
            s += R"({"a":)";
        return s + "1" + std::string(100000, '}');
    }();
    BOOST_TEST(outcome(objects) == "too_deep");
}

BOOST_AUTO_TEST_CASE(decode_accepts_nesting_within_the_limit_in_unknown_keys)
{
    // The envelope is level 1, so 31 more levels stay within max_json_depth.
    std::string const nested = std::string(31, '[') + std::string(31, ']');
    BOOST_TEST(outcome(valid_envelope_plus("\"extra\":" + nested)) == "ok");
    std::string const too_deep = std::string(32, '[') + std::string(32, ']');
    BOOST_TEST(outcome(valid_envelope_plus("\"extra\":" + too_deep)) == "too_deep");
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_duplicate_key_in_the_envelope)
{
    BOOST_TEST(outcome(valid_envelope_plus(R"("version":1)")) == "duplicate_key");
    BOOST_TEST(outcome(valid_envelope_plus(R"("message_id":"m2")")) == "duplicate_key");
    BOOST_TEST(outcome(valid_envelope_plus(R"("payload":{"type":"X"})")) == "duplicate_key");
    // Even a repeated unknown key: any object in the message counts.
    BOOST_TEST(outcome(valid_envelope_plus(R"("x":1,"x":1)")) == "duplicate_key");
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_duplicate_key_inside_the_payload)
{
    check_payload_cases({
        {R"({"type":"DeviceSyncAck","message_id":"x","message_id":"y","synced_version":1})", "duplicate_key"},
        {R"({"type":"DeviceSyncAck","type":"DeviceSyncAck","message_id":"x","synced_version":1})", "duplicate_key"},
        {R"({"type":"RecoveryProofResponse","proofs":[{"key_hash":"a","proof_data":[],"key_hash":"a"}]})",
         "duplicate_key"},
        {R"({"type":"Presence","extra":{"a":1,"b":{"c":1,"c":2}}})", "duplicate_key"},
        {R"({"type":"Presence","extra":[[{"a":1}],[{"a":1,"a":1}]]})", "duplicate_key"},
        // The same key in different objects is not a duplicate.
        {R"({"type":"Presence","a":{"a":{"a":1}},"b":[{"a":1},{"a":1}]})", "ok"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_an_envelope_missing_a_required_field)
{
    for (std::string_view key : {"version", "message_id", "timestamp", "payload"})
        BOOST_TEST_CONTEXT(key) { BOOST_TEST(outcome(envelope_without(key)) == "missing_field"); }
}

BOOST_AUTO_TEST_CASE(decode_rejects_envelope_fields_of_the_wrong_type)
{
    BOOST_TEST(outcome(envelope_with("version", R"("1")")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("version", "true")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("message_id", "1")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("message_id", "null")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("timestamp", "null")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("payload", "[]")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("payload", R"("Handshake")")) == "wrong_type");
}

BOOST_AUTO_TEST_CASE(decode_accepts_any_version_byte)
{
    BOOST_TEST(outcome(envelope_with("version", "0")) == "ok");
    BOOST_TEST(outcome(envelope_with("version", "255")) == "ok");
}

BOOST_AUTO_TEST_CASE(decode_rejects_integers_that_are_negative_or_out_of_range)
{
    BOOST_TEST(outcome(envelope_with("version", "256")) == "out_of_range");
    BOOST_TEST(outcome(envelope_with("version", "-1")) == "out_of_range");
    BOOST_TEST(outcome(envelope_with("timestamp", "-1")) == "out_of_range");
    BOOST_TEST(outcome(envelope_with("timestamp", "-9223372036854775808")) == "out_of_range");
    BOOST_TEST(outcome(envelope_with("timestamp", "18446744073709551615")) == "ok");
    BOOST_TEST(outcome(envelope_with("timestamp", "9223372036854775808")) == "ok");
    // Beyond u64 the number is no longer an integer for the parser (nor for serde).
    BOOST_TEST(outcome(envelope_with("timestamp", "18446744073709551616")) == "wrong_type");
    BOOST_TEST(payload_outcome(R"({"type":"HandshakeAck","protocol_version":4294967296,)"
                               R"("server_version":"x","features":[]})") == "out_of_range");
}

BOOST_AUTO_TEST_CASE(decode_rejects_fractional_and_exponent_numbers_for_integers)
{
    for (std::string_view number : {"1.0", "1.5", "1e3", "1E3", "10e-1", "0.0", "-0", "-0.0"}) {
        BOOST_TEST_CONTEXT(number)
        {
            BOOST_TEST(outcome(envelope_with("version", number)) == "wrong_type");
            BOOST_TEST(outcome(envelope_with("timestamp", number)) == "wrong_type");
        }
    }
    BOOST_TEST(outcome(envelope_with("timestamp", "0")) == "ok");
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_payload_without_a_string_type)
{
    check_payload_cases({
        {R"({})", "missing_field"},
        {R"({"client_id":"a"})", "missing_field"},
        {R"({"type":null})", "wrong_type"},
        {R"({"type":0})", "wrong_type"},
        {R"({"type":["Handshake"]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_accepts_an_unknown_payload_type)
{
    for (std::string_view type : {"Presence", "ValidationRecord", "handshake", "", "Unknown"}) {
        BOOST_TEST_CONTEXT(type)
        {
            auto const decoded = decode_frame(frame_of(
                envelope_json(std::string(R"({"type":")").append(type).append(R"(","whatever":[1,{"x":null}]})"))));
            BOOST_REQUIRE(decoded.has_value());
            auto const* unknown = std::get_if<unknown_payload>(&decoded->body);
            BOOST_REQUIRE(unknown != nullptr);
            BOOST_TEST(unknown->type == type);
        }
    }
}

BOOST_AUTO_TEST_CASE(decode_ignores_unknown_keys_everywhere)
{
    auto const json = std::string(R"({"extra":{"nested":[1,2.5,null]},"version":1,"message_id":"m",)")
                          .append(R"("timestamp":5,"zzz":"x","payload":{"type":"ForwardingHints",)")
                          .append(R"("routing_id":"r","hints":[{"blob_id":"b","relay_url":"u",)")
                          .append(R"("expires_at_secs":3,"signature":[999]}]}})");
    auto const decoded = decode_frame(frame_of(json));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST((decoded->body == payload{forwarding_hints{{{"b", "u", 3}}}}));
}

BOOST_AUTO_TEST_CASE(decode_ignores_sender_id_on_an_encrypted_update)
{
    for (std::string_view sender : {R"("abc")", "null", "5", R"({"a":[1]})"}) {
        BOOST_TEST_CONTEXT(sender)
        {
            auto const decoded = decode_frame(
                frame_of(envelope_json(std::string(R"({"type":"EncryptedUpdate","recipient_id":"r","sender_id":)")
                                           .append(sender)
                                           .append(R"(,"ciphertext":[1,2]})"))));
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((decoded->body == payload{encrypted_update{"r", {1, 2}}}));
        }
    }
}

BOOST_AUTO_TEST_CASE(decode_reads_bytes_only_as_arrays_of_integers_0_to_255)
{
    check_payload_cases({
        {update("[]"), "ok"},
        {update("[0,255]"), "ok"},
        {update("[256]"), "out_of_range"},
        {update("[1,-1]"), "out_of_range"},
        {update("[18446744073709551615]"), "out_of_range"},
        {update("[1.0]"), "wrong_type"},
        {update("[-0]"), "wrong_type"},
        {update(R"(["1"])"), "wrong_type"},
        {update("[null]"), "wrong_type"},
        {update("[[1]]"), "wrong_type"},
        {update(R"("AQID")"), "wrong_type"},
        {update("null"), "wrong_type"},
        {update("{}"), "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_byte_arrays_that_nest_or_mix_types)
{
    check_payload_cases({
        {update("[1,[2]]"), "wrong_type"},
        {update("[[1,2]]"), "wrong_type"},
        {update("[[]]"), "wrong_type"},
        {update("[1,{}]"), "wrong_type"},
        {update(R"([1,2,"x"])"), "wrong_type"},
        {update("[1,2,null]"), "wrong_type"},
        {update("[1,2,true]"), "wrong_type"},
        {update("[1,2,300]"), "out_of_range"},
        {update("[1,2,-0]"), "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_never_reads_a_byte_array_as_a_number)
{
    check_payload_cases({
        {R"({"type":"Handshake","client_id":"c","timestamp":[1]})", "wrong_type"},
        {R"({"type":"DeviceSyncAck","message_id":"m","synced_version":[0]})", "wrong_type"},
        {R"({"type":"RecoveryProofQuery","key_hashes":[1,2]})", "wrong_type"},
        {R"({"type":"HandshakeAck","protocol_version":1,"server_version":"1","features":[0]})", "wrong_type"},
        {R"({"type":"ForwardingHints","hints":[0]})", "wrong_type"},
        {R"({"type":"Handshake","client_id":[99]})", "wrong_type"},
    });
    BOOST_TEST(outcome(envelope_with("version", "[1]")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("timestamp", "[0]")) == "wrong_type");
    BOOST_TEST(outcome(envelope_with("payload", "[0]")) == "wrong_type");
    BOOST_TEST(outcome("[1,2]") == "not_an_object");
}

BOOST_AUTO_TEST_CASE(decode_keeps_several_byte_arrays_and_large_numbers_apart)
{
    auto const decoded =
        decode_frame(frame_of(R"({"pad":[9,9],"version":1,"message_id":"m","timestamp":9223372036854775808,)"
                              R"("payload":{"x":[[1],[2,3]],"type":"AccountRevoked","signature":[4,5],"sender_id":"s",)"
                              R"("recipient_id":"r","timestamp":18446744073709551615,"y":[6]}})"));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(decoded->timestamp == 9223372036854775808u);
    auto const& revoked = std::get<account_revoked>(decoded->body);
    BOOST_TEST((revoked.signature == bytes{4, 5}));
    BOOST_TEST(revoked.timestamp == 18446744073709551615u);
}

BOOST_AUTO_TEST_CASE(decode_accepts_absent_or_null_optional_strings)
{
    auto const decoded = decode_frame(
        frame_of(envelope_json(R"({"type":"Handshake","client_id":"c","device_id":null,"routing_token":null,)"
                               R"("identity_public_key":null,"nonce":null,"signature":null,"timestamp":null})")));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST((std::get<handshake>(decoded->body) == handshake{.client_id = "c"}));
    BOOST_TEST(payload_outcome(R"({"type":"PurgeRequest","recovery_key_hash":null})") == "ok");
    BOOST_TEST(payload_outcome(R"({"type":"PurgeRequest"})") == "ok");
}

BOOST_AUTO_TEST_CASE(decode_rejects_null_for_a_boolean_with_a_default)
{
    check_payload_cases({
        {R"({"type":"Handshake","client_id":"c","suppress_presence":null})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","suppress_presence":0})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","suppress_presence":"true"})", "wrong_type"},
        {R"({"type":"PurgeRequest","include_device_sync":null})", "wrong_type"},
        {R"({"type":"PurgeRequest","include_recovery_proofs":null})", "wrong_type"},
        {R"({"type":"PurgeRequest","include_recovery_proofs":1})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_matches_ack_status_case_sensitively)
{
    auto ack = [](std::string_view status) {
        return std::string(R"({"type":"Acknowledgment","message_id":"m","status":)").append(status).append("}");
    };
    check_payload_cases({
        {ack(R"("Stored")"), "ok"},
        {ack(R"("Delivered")"), "ok"},
        {ack(R"("ReceivedByRecipient")"), "ok"},
        {ack(R"("Failed")"), "ok"},
        {ack(R"("stored")"), "bad_enum"},
        {ack(R"("STORED")"), "bad_enum"},
        {ack(R"("ReceivedByRelay")"), "bad_enum"},
        {ack(R"("")"), "bad_enum"},
        {ack("0"), "wrong_type"},
        {ack("null"), "wrong_type"},
    });
}

// One malformed-input table per payload type: each required field missing,
// each field of a wrong JSON type.

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_handshake)
{
    check_payload_cases({
        {R"({"type":"Handshake"})", "missing_field"},
        {R"({"type":"Handshake","client_id":null})", "wrong_type"},
        {R"({"type":"Handshake","client_id":1})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","device_id":1})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","routing_token":[]})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","nonce":true})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","signature":[1,2]})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","identity_public_key":{}})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","timestamp":"1"})", "wrong_type"},
        {R"({"type":"Handshake","client_id":"c","timestamp":-5})", "out_of_range"},
        {R"({"type":"Handshake","client_id":"c","timestamp":1.5})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_handshake_ack)
{
    check_payload_cases({
        {R"({"type":"HandshakeAck","server_version":"1","features":[]})", "missing_field"},
        {R"({"type":"HandshakeAck","protocol_version":1,"features":[]})", "missing_field"},
        {R"({"type":"HandshakeAck","protocol_version":1,"server_version":"1"})", "missing_field"},
        {R"({"type":"HandshakeAck","protocol_version":"1","server_version":"1","features":[]})", "wrong_type"},
        {R"({"type":"HandshakeAck","protocol_version":1,"server_version":1,"features":[]})", "wrong_type"},
        {R"({"type":"HandshakeAck","protocol_version":1,"server_version":"1","features":"a"})", "wrong_type"},
        {R"({"type":"HandshakeAck","protocol_version":1,"server_version":"1","features":["a",1]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_encrypted_update)
{
    check_payload_cases({
        {R"({"type":"EncryptedUpdate","ciphertext":[]})", "missing_field"},
        {R"({"type":"EncryptedUpdate","recipient_id":"r"})", "missing_field"},
        {R"({"type":"EncryptedUpdate","recipient_id":7,"ciphertext":[]})", "wrong_type"},
        {R"({"type":"EncryptedUpdate","recipient_id":"r","ciphertext":"00"})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_acknowledgment)
{
    check_payload_cases({
        {R"({"type":"Acknowledgment","status":"Stored"})", "missing_field"},
        {R"({"type":"Acknowledgment","message_id":"m"})", "missing_field"},
        {R"({"type":"Acknowledgment","message_id":1,"status":"Stored"})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_account_revoked)
{
    auto const full = std::string(R"({"type":"AccountRevoked","sender_id":"s","recipient_id":")")
                          .append(hex64)
                          .append(R"(","timestamp":1,"signature":[1]})");
    check_payload_cases({
        {full, "ok"},
        {R"({"type":"AccountRevoked","recipient_id":"r","timestamp":1,"signature":[]})", "missing_field"},
        {R"({"type":"AccountRevoked","sender_id":"s","timestamp":1,"signature":[]})", "missing_field"},
        {R"({"type":"AccountRevoked","sender_id":"s","recipient_id":"r","signature":[]})", "missing_field"},
        {R"({"type":"AccountRevoked","sender_id":"s","recipient_id":"r","timestamp":1})", "missing_field"},
        {R"({"type":"AccountRevoked","sender_id":"s","recipient_id":"r","timestamp":-1,"signature":[]})",
         "out_of_range"},
        {R"({"type":"AccountRevoked","sender_id":"s","recipient_id":"r","timestamp":1,"signature":"sig"})",
         "wrong_type"},
        {R"({"type":"AccountRevoked","sender_id":null,"recipient_id":"r","timestamp":1,"signature":[]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_device_sync_message)
{
    check_payload_cases({
        {R"({"type":"DeviceSyncMessage","target_device_id":"t","sender_device_id":"s","encrypted_payload":[],"version":1})",
         "missing_field"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","sender_device_id":"s","encrypted_payload":[],"version":1})",
         "missing_field"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":"t","encrypted_payload":[],"version":1})",
         "missing_field"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":"t","sender_device_id":"s","version":1})",
         "missing_field"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":"t","sender_device_id":"s","encrypted_payload":[]})",
         "missing_field"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":"t","sender_device_id":"s","encrypted_payload":[],"version":1.0})",
         "wrong_type"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":2,"sender_device_id":"s","encrypted_payload":[],"version":1})",
         "wrong_type"},
        {R"({"type":"DeviceSyncMessage","identity_id":"i","target_device_id":"t","sender_device_id":"s","encrypted_payload":[300],"version":1})",
         "out_of_range"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_device_sync_ack)
{
    check_payload_cases({
        {R"({"type":"DeviceSyncAck","synced_version":1})", "missing_field"},
        {R"({"type":"DeviceSyncAck","message_id":"m"})", "missing_field"},
        {R"({"type":"DeviceSyncAck","message_id":"m","synced_version":"1"})", "wrong_type"},
        {R"({"type":"DeviceSyncAck","message_id":"m","synced_version":-1})", "out_of_range"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_recovery_proof_store)
{
    check_payload_cases({
        {R"({"type":"RecoveryProofStore","proof_data":[]})", "missing_field"},
        {R"({"type":"RecoveryProofStore","key_hash":"k"})", "missing_field"},
        {R"({"type":"RecoveryProofStore","key_hash":["k"],"proof_data":[]})", "wrong_type"},
        {R"({"type":"RecoveryProofStore","key_hash":"k","proof_data":[1,2.5]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_recovery_proof_query)
{
    check_payload_cases({
        {R"({"type":"RecoveryProofQuery","key_hashes":[]})", "ok"},
        {R"({"type":"RecoveryProofQuery"})", "missing_field"},
        {R"({"type":"RecoveryProofQuery","key_hashes":"k"})", "wrong_type"},
        {R"({"type":"RecoveryProofQuery","key_hashes":null})", "wrong_type"},
        {R"({"type":"RecoveryProofQuery","key_hashes":["k",null]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_recovery_proof_response)
{
    check_payload_cases({
        {R"({"type":"RecoveryProofResponse","proofs":[]})", "ok"},
        {R"({"type":"RecoveryProofResponse"})", "missing_field"},
        {R"({"type":"RecoveryProofResponse","proofs":{}})", "wrong_type"},
        {R"({"type":"RecoveryProofResponse","proofs":[1]})", "wrong_type"},
        {R"({"type":"RecoveryProofResponse","proofs":[{"key_hash":"k"}]})", "missing_field"},
        {R"({"type":"RecoveryProofResponse","proofs":[{"proof_data":[]}]})", "missing_field"},
        {R"({"type":"RecoveryProofResponse","proofs":[{"key_hash":"k","proof_data":[-3]}]})", "out_of_range"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_purge_request)
{
    check_payload_cases({
        {R"({"type":"PurgeRequest","include_device_sync":"yes"})", "wrong_type"},
        {R"({"type":"PurgeRequest","recovery_key_hash":5})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_purge_response)
{
    check_payload_cases({
        {R"({"type":"PurgeResponse","device_sync_deleted":0,"recovery_proofs_deleted":0})", "missing_field"},
        {R"({"type":"PurgeResponse","blobs_deleted":0,"recovery_proofs_deleted":0})", "missing_field"},
        {R"({"type":"PurgeResponse","blobs_deleted":0,"device_sync_deleted":0})", "missing_field"},
        {R"({"type":"PurgeResponse","blobs_deleted":-1,"device_sync_deleted":0,"recovery_proofs_deleted":0})",
         "out_of_range"},
        {R"({"type":"PurgeResponse","blobs_deleted":0,"device_sync_deleted":null,"recovery_proofs_deleted":0})",
         "wrong_type"},
    });
}

BOOST_AUTO_TEST_CASE(decode_rejects_malformed_forwarding_hints)
{
    check_payload_cases({
        {R"({"type":"ForwardingHints","hints":[]})", "ok"},
        {R"({"type":"ForwardingHints"})", "missing_field"},
        {R"({"type":"ForwardingHints","hints":[{"relay_url":"u","expires_at_secs":1}]})", "missing_field"},
        {R"({"type":"ForwardingHints","hints":[{"blob_id":"b","expires_at_secs":1}]})", "missing_field"},
        {R"({"type":"ForwardingHints","hints":[{"blob_id":"b","relay_url":"u"}]})", "missing_field"},
        {R"({"type":"ForwardingHints","hints":[{"blob_id":"b","relay_url":"u","expires_at_secs":1e9}]})", "wrong_type"},
        {R"({"type":"ForwardingHints","hints":[null]})", "wrong_type"},
    });
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::protocol
