#include "worker/protocol/codec.hpp"

#include "tests/protocol/frames.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <numeric>
#include <vector>

// Golden frames from the protocol (docs/protocol.md) and round trips of every payload type.

namespace relay::protocol {
namespace {

using namespace test;

// docs/protocol.md#s3-1, the relay acknowledging a stored message.
constexpr std::string_view stored_ack_json =
    R"({"version":1,"message_id":"0d3c6f2e-8a4b-4c1e-9f7a-2b5d8e1c4a90","timestamp":1760000000,)"
    R"("payload":{"type":"Acknowledgment","message_id":"c1f0e2d3-4b5a-4978-8a6b-1c2d3e4f5a6b","status":"Stored"}})";

// docs/protocol.md#s7-3, R→C delivery of a pending blob.
constexpr std::string_view delivery_json =
    R"({"version":1,"message_id":"9a7f3a52-6a43-4bd4-9a52-2f0c1c6b8e01","timestamp":1760000123,)"
    R"("payload":{"type":"EncryptedUpdate","recipient_id":"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29","ciphertext":[23,4,250,0,17]}})";

// docs/protocol.md#s7-1 with the readability line breaks removed.
constexpr std::string_view handshake_json =
    R"({"version":1,"message_id":"5b1c0c52-3c52-4a43-8d4e-0b8e2b3f1f11","timestamp":1700000000,)"
    R"("payload":{"type":"Handshake","client_id":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",)"
    R"("device_id":"8f14e45fceea167a5a36dedd4bea2543c0a8b1d2e3f405162738495a6b7c8d9e","suppress_presence":false,)"
    R"("identity_public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",)"
    R"("nonce":"4242424242424242424242424242424242424242424242424242424242424242",)"
    R"("signature":"b502132ab5761767ee209719521a73c34af93c41cc014ed69ac9c1f384c3012e090d398f7a92fd63103c2c53cc05c51d2a4d0d745b9710218134b5eb6834950c",)"
    R"("timestamp":1700000000}})";

// The payload examples of docs/protocol.md#s7-2–§7.11 (docs/protocol.md), verbatim. Each is already in
// the relay's own output form, so decoding and re-encoding must give it back.
constexpr std::array<std::string_view, 13> payload_examples{
    R"({"type":"HandshakeAck","protocol_version":1,"server_version":"1.1.0","features":["routing_token","suppress_presence","purge","device_sync","recovery_proof","account_revoked","forwarding_hints","authenticated_handshake"]})",
    R"({"type":"EncryptedUpdate","recipient_id":"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29","ciphertext":[23,4,250,0,17]})",
    R"({"type":"Acknowledgment","message_id":"9a7f3a52-6a43-4bd4-9a52-2f0c1c6b8e01","status":"ReceivedByRecipient"})",
    R"({"type":"AccountRevoked","sender_id":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","recipient_id":"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29","timestamp":1700000000,"signature":[12,200,7]})",
    R"({"type":"DeviceSyncMessage","identity_id":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","target_device_id":"8f14e45fceea167a5a36dedd4bea2543c0a8b1d2e3f405162738495a6b7c8d9e","sender_device_id":"1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f","encrypted_payload":[9,8,7],"version":3})",
    R"({"type":"DeviceSyncAck","message_id":"4e0f6a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b","synced_version":3})",
    R"({"type":"RecoveryProofStore","key_hash":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","proof_data":[1,2,3,4]})",
    R"({"type":"RecoveryProofQuery","key_hashes":["00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"]})",
    R"({"type":"RecoveryProofResponse","proofs":[{"key_hash":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","proof_data":[1,2,3,4]}]})",
    R"({"type":"PurgeRequest","include_device_sync":true,"include_recovery_proofs":false})",
    R"({"type":"PurgeResponse","blobs_deleted":3,"device_sync_deleted":1,"recovery_proofs_deleted":0})",
    R"({"type":"ForwardingHints","hints":[{"blob_id":"2f1e0d9c-8b7a-4654-9321-0fedcba98765","relay_url":"ws://relay-b:8080","expires_at_secs":1762592000}]})",
    R"({"type":"Handshake","client_id":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","suppress_presence":false})",
};

bytes all_byte_values()
{
    bytes b(256);
    std::iota(b.begin(), b.end(), std::uint8_t{0});
    return b;
}

// One populated envelope per payload type, every optional field set.
std::vector<envelope> one_of_each()
{
    auto const hex = std::string(64, 'a');
    std::vector<payload> bodies{
        handshake{.client_id = hex,
                  .device_id = hex,
                  .routing_token = std::string(64, 'b'),
                  .suppress_presence = true,
                  .identity_public_key = hex,
                  .nonce = std::string(64, '4'),
                  .signature = std::string(128, 'c'),
                  .timestamp = 1700000000},
        handshake_ack{.protocol_version = 1, .server_version = "1.1.0", .features = {"a", "b"}},
        encrypted_update{.recipient_id = hex, .ciphertext = all_byte_values()},
        acknowledgment{.message_id = "id", .status = ack_status::delivered},
        account_revoked{
            .sender_id = "s", .recipient_id = hex, .timestamp = 18446744073709551615u, .signature = {0, 255}},
        device_sync_message{.identity_id = hex,
                            .target_device_id = "t",
                            .sender_device_id = "s",
                            .encrypted_payload = {},
                            .version = 7},
        device_sync_ack{.message_id = "x", .synced_version = 9},
        recovery_proof_store{.key_hash = hex, .proof_data = {1, 2, 3}},
        recovery_proof_query{.key_hashes = {hex, "", "zz"}},
        recovery_proof_response{.proofs = {{hex, {1}}, {std::string(64, 'f'), {}}}},
        purge_request{.include_device_sync = true, .include_recovery_proofs = true, .recovery_key_hash = hex},
        purge_response{.blobs_deleted = 1, .device_sync_deleted = 2, .recovery_proofs_deleted = 3},
        forwarding_hints{.hints = {{"b1", "ws://x:1", 5}, {"b2", "wss://y", 6}}},
        unknown_payload{.type = "Presence"},
    };
    std::vector<envelope> out;
    std::uint64_t timestamp = 0;
    for (auto& body : bodies)
        out.push_back({.version = 1,
                       .message_id = "id-" + std::to_string(timestamp),
                       .timestamp = timestamp++,
                       .body = std::move(body)});
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(stored_ack_encodes_to_the_protocol_example_byte_for_byte)
{
    auto const frame = encode_ack("0d3c6f2e-8a4b-4c1e-9f7a-2b5d8e1c4a90", 1760000000,
                                  "c1f0e2d3-4b5a-4978-8a6b-1c2d3e4f5a6b", ack_status::stored);
    BOOST_TEST(stored_ack_json.size() == 194u);
    BOOST_TEST(frame == std::string("\x00\x00\x00\xC2", 4) + std::string(stored_ack_json));
}

BOOST_AUTO_TEST_CASE(encode_frame_of_the_stored_ack_matches_encode_ack)
{
    envelope const e{.version = 1,
                     .message_id = "0d3c6f2e-8a4b-4c1e-9f7a-2b5d8e1c4a90",
                     .timestamp = 1760000000,
                     .body = acknowledgment{"c1f0e2d3-4b5a-4978-8a6b-1c2d3e4f5a6b", ack_status::stored}};
    BOOST_TEST(encode_frame(e) == frame_of(stored_ack_json));
}

BOOST_AUTO_TEST_CASE(stored_ack_example_decodes_to_its_fields)
{
    auto const decoded = decode_frame(frame_of(stored_ack_json));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(decoded->version == 1);
    BOOST_TEST(decoded->message_id == "0d3c6f2e-8a4b-4c1e-9f7a-2b5d8e1c4a90");
    BOOST_TEST(decoded->timestamp == 1760000000u);
    auto const* ack = std::get_if<acknowledgment>(&decoded->body);
    BOOST_REQUIRE(ack != nullptr);
    BOOST_TEST(ack->message_id == "c1f0e2d3-4b5a-4978-8a6b-1c2d3e4f5a6b");
    BOOST_TEST((ack->status == ack_status::stored));
}

BOOST_AUTO_TEST_CASE(delivery_encodes_to_the_protocol_example_byte_for_byte)
{
    std::array<std::uint8_t, 5> const ciphertext{23, 4, 250, 0, 17};
    auto const frame = encode_delivery("9a7f3a52-6a43-4bd4-9a52-2f0c1c6b8e01", 1760000123,
                                       "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", ciphertext);
    BOOST_TEST(frame == frame_of(delivery_json));
}

BOOST_AUTO_TEST_CASE(handshake_ack_lists_the_protocol_features_then_live_push)
{
    auto const frame = encode_handshake_ack("e-1", 1760000000, false);
    BOOST_TEST(json_of(frame) ==
               R"({"version":1,"message_id":"e-1","timestamp":1760000000,"payload":{"type":"HandshakeAck",)"
               R"("protocol_version":1,"server_version":"1.1.0","features":["routing_token",)"
               R"("suppress_presence","purge","device_sync","recovery_proof","account_revoked",)"
               R"("forwarding_hints","authenticated_handshake","live_push"]}})");
    BOOST_TEST(frame == frame_of(json_of(frame)));
}

BOOST_AUTO_TEST_CASE(handshake_ack_of_a_noise_session_ends_with_noise_nk)
{
    auto const decoded = decode_frame(encode_handshake_ack("e-2", 1, true));
    BOOST_REQUIRE(decoded.has_value());
    auto const& ack = std::get<handshake_ack>(decoded->body);
    BOOST_TEST(ack.protocol_version == 1u);
    BOOST_TEST(ack.server_version == "1.1.0");
    BOOST_REQUIRE(ack.features.size() == handshake_features().size() + 1);
    BOOST_TEST(ack.features.back() == "noise_nk");
    BOOST_TEST(ack.features[ack.features.size() - 2] == "live_push");
}

BOOST_AUTO_TEST_CASE(handshake_example_decodes_and_reencodes_compactly)
{
    auto const decoded = decode_frame(frame_of(handshake_json));
    BOOST_REQUIRE(decoded.has_value());
    auto const& h = std::get<handshake>(decoded->body);
    BOOST_TEST(h.client_id == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    BOOST_TEST(h.device_id.value() == "8f14e45fceea167a5a36dedd4bea2543c0a8b1d2e3f405162738495a6b7c8d9e");
    BOOST_TEST(!h.routing_token.has_value());
    BOOST_TEST(!h.suppress_presence);
    BOOST_TEST(h.nonce.value() == "4242424242424242424242424242424242424242424242424242424242424242");
    BOOST_TEST(h.timestamp.value() == 1700000000u);
    BOOST_TEST(encode_frame(*decoded) == frame_of(handshake_json));
}

BOOST_AUTO_TEST_CASE(handshake_example_with_its_line_breaks_decodes_the_same)
{
    // The document shows the example wrapped over lines; JSON whitespace is fine.
    std::string spaced(handshake_json);
    for (std::string_view key : {R"("payload")", R"("device_id")", R"("identity_public_key")", R"("nonce")",
                                 R"("signature")", R"("timestamp":1700000000})"})
        spaced.insert(spaced.rfind(key), "\n ");
    BOOST_TEST(outcome(spaced) == "ok");
    BOOST_TEST((decode_frame(frame_of(spaced)).value() == decode_frame(frame_of(handshake_json)).value()));
}

BOOST_AUTO_TEST_CASE(legacy_minimal_handshake_decodes_with_defaults)
{
    auto const decoded = decode_frame(frame_of(envelope_json(R"({"type":"Handshake","client_id":"abc"})")));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST((std::get<handshake>(decoded->body) == handshake{.client_id = "abc"}));
}

BOOST_AUTO_TEST_CASE(every_payload_example_reencodes_to_the_same_bytes)
{
    for (auto const example : payload_examples) {
        BOOST_TEST_CONTEXT(example)
        {
            auto const frame = frame_of(envelope_json(example));
            auto const decoded = decode_frame(frame);
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST(encode_frame(*decoded) == frame);
        }
    }
}

BOOST_AUTO_TEST_CASE(every_payload_type_round_trips)
{
    for (auto const& original : one_of_each()) {
        BOOST_TEST_CONTEXT(type_name(original.body))
        {
            auto const decoded = decode_frame(encode_frame(original));
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == original));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_payload_type_round_trips_with_only_required_fields)
{
    std::vector<payload> const bodies{handshake{},
                                      handshake_ack{},
                                      encrypted_update{},
                                      acknowledgment{},
                                      account_revoked{},
                                      device_sync_message{},
                                      device_sync_ack{},
                                      recovery_proof_store{},
                                      recovery_proof_query{},
                                      recovery_proof_response{},
                                      purge_request{},
                                      purge_response{},
                                      forwarding_hints{}};
    for (auto const& body : bodies) {
        BOOST_TEST_CONTEXT(type_name(body))
        {
            envelope const original{.version = 0, .message_id = "", .timestamp = 0, .body = body};
            auto const decoded = decode_frame(encode_frame(original));
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == original));
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_payload_encodes_only_its_type)
{
    envelope const e{.version = 1, .message_id = "m", .timestamp = 2, .body = unknown_payload{"ValidationRecord"}};
    BOOST_TEST(json_of(encode_frame(e)) ==
               R"({"version":1,"message_id":"m","timestamp":2,"payload":{"type":"ValidationRecord"}})");
}

BOOST_AUTO_TEST_CASE(delivery_encoder_matches_encode_frame_for_a_large_ciphertext)
{
    bytes ciphertext(4096);
    for (std::size_t i = 0; i < ciphertext.size(); ++i)
        ciphertext[i] = static_cast<std::uint8_t>(i * 7 + 3);
    envelope const e{.version = 1, .message_id = "blob", .timestamp = 99, .body = encrypted_update{"rcpt", ciphertext}};
    auto const frame = encode_delivery("blob", 99, "rcpt", ciphertext);
    BOOST_TEST(frame == encode_frame(e));
    auto const decoded = decode_frame(frame);
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST((std::get<encrypted_update>(decoded->body).ciphertext == ciphertext));
}

BOOST_AUTO_TEST_CASE(ack_encoder_matches_encode_frame_for_every_status)
{
    for (auto status :
         {ack_status::stored, ack_status::delivered, ack_status::received_by_recipient, ack_status::failed}) {
        envelope const e{.version = 1, .message_id = "env", .timestamp = 5, .body = acknowledgment{"acked", status}};
        BOOST_TEST(encode_ack("env", 5, "acked", status) == encode_frame(e));
    }
}

BOOST_AUTO_TEST_CASE(type_names_are_the_wire_spellings)
{
    BOOST_TEST(type_name(handshake{}) == "Handshake");
    BOOST_TEST(type_name(handshake_ack{}) == "HandshakeAck");
    BOOST_TEST(type_name(encrypted_update{}) == "EncryptedUpdate");
    BOOST_TEST(type_name(acknowledgment{}) == "Acknowledgment");
    BOOST_TEST(type_name(account_revoked{}) == "AccountRevoked");
    BOOST_TEST(type_name(device_sync_message{}) == "DeviceSyncMessage");
    BOOST_TEST(type_name(device_sync_ack{}) == "DeviceSyncAck");
    BOOST_TEST(type_name(recovery_proof_store{}) == "RecoveryProofStore");
    BOOST_TEST(type_name(recovery_proof_query{}) == "RecoveryProofQuery");
    BOOST_TEST(type_name(recovery_proof_response{}) == "RecoveryProofResponse");
    BOOST_TEST(type_name(purge_request{}) == "PurgeRequest");
    BOOST_TEST(type_name(purge_response{}) == "PurgeResponse");
    BOOST_TEST(type_name(forwarding_hints{}) == "ForwardingHints");
    BOOST_TEST(type_name(unknown_payload{"Presence"}) == "Presence");
}

BOOST_AUTO_TEST_CASE(ack_statuses_have_their_wire_spellings)
{
    BOOST_TEST(std::string_view(to_string(ack_status::stored)) == "Stored");
    BOOST_TEST(std::string_view(to_string(ack_status::delivered)) == "Delivered");
    BOOST_TEST(std::string_view(to_string(ack_status::received_by_recipient)) == "ReceivedByRecipient");
    BOOST_TEST(std::string_view(to_string(ack_status::failed)) == "Failed");
}

BOOST_AUTO_TEST_CASE(decode_errors_are_error_codes_of_the_protocol_category)
{
    boost::system::error_code const ec = decode_error::duplicate_key;
    BOOST_TEST(ec.category().name() == std::string_view("relay.protocol"));
    BOOST_TEST((ec == decode_error::duplicate_key));
    BOOST_TEST(static_cast<bool>(ec));
    BOOST_TEST(!ec.message().empty());
    auto const result = decode_frame("abc");
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST((result.error() == decode_error::too_short));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::protocol
