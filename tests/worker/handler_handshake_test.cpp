// The handler's handshake: validation, the signed variant, presence (§4.3, §4.4, §5, D-3).

#include "worker/handler.hpp"

#include "handler_fixture.hpp"

using namespace handler_testing;

namespace {
/// A distinct lowercase hex64 id per number.
std::string hex_id(int n)
{
    char buf[65];
    std::snprintf(buf, sizeof buf, "%064x", n + 1);
    return buf;
}
} // namespace

BOOST_AUTO_TEST_SUITE(handler)

// ===================== handshake (§4.3, §4.4, §5, D-3) =====================

BOOST_FIXTURE_TEST_CASE(valid_handshake_proceeds_and_sends_one_handshake_ack, relay_fixture)
{
    client c(services);
    BOOST_TEST((c.handler.on_handshake(frame_of("hs-1", hello(alice))) == verdict::proceed));
    BOOST_TEST(c.handler.handshaken());
    BOOST_TEST(c.handler.routing_id() == alice);
    BOOST_TEST_REQUIRE(c.sink.frames.size() == 1u);
    BOOST_TEST(c.sink.blobs.empty());
    auto const e = decoded(c.sink.frames[0]);
    BOOST_TEST(e.version == 1u);
    BOOST_TEST(is_uuid(e.message_id));
    BOOST_TEST(e.message_id != "hs-1");
    auto const* ack = std::get_if<protocol::handshake_ack>(&e.body);
    BOOST_TEST_REQUIRE(ack != nullptr);
    BOOST_TEST(ack->protocol_version == 1u);
    BOOST_TEST(ack->server_version == "1.1.0");
    std::vector<std::string> const features{"routing_token",    "suppress_presence",       "purge",
                                            "device_sync",      "recovery_proof",          "account_revoked",
                                            "forwarding_hints", "authenticated_handshake", "live_push"};
    BOOST_TEST(ack->features == features, boost::test_tools::per_element());
    BOOST_TEST(store().live_slots(alice) == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_connection_whose_presence_cannot_be_recorded_is_served_by_polling, relay_fixture)
{
    // A store laid out for fewer connections than arrive: a presence table of
    // 64 entries (48 usable) and 400 distinct routing ids. Every one is
    // served; from the 49th on, none is live for put(), and each is counted.
    std::vector<std::unique_ptr<client>> open;
    for (int i = 0; i < 400; ++i) {
        auto c = std::make_unique<client>(services);
        BOOST_TEST_REQUIRE((c->handler.on_handshake(frame_of("h", hello(hex_id(i)))) == verdict::proceed));
        BOOST_TEST(c->sink.frames.size() == 1u); // its HandshakeAck
        BOOST_TEST(store().live_slots(hex_id(i)) == (i < 48 ? 1u : 0u));
        open.push_back(std::move(c));
    }
    BOOST_TEST(services.slot_state()
                   .counters[static_cast<std::size_t>(shm::counter::connections_without_presence_total)]
                   .load() == 352u);
    // A blob for one of them is found by the worker's poll, once.
    client sender(services);
    sender.handler.on_handshake(frame_of("h", hello(alice)));
    sender.handler.on_message(update("u-1", hex_id(300), {1, 2, 3}));
    auto const polled = std::move(open[300]);
    BOOST_TEST(polled->sink.blobs.empty());
    polled->handler.poll_mailbox();
    polled->handler.poll_mailbox();
    BOOST_TEST_REQUIRE(polled->sink.blobs.size() == 1u);
    // Once a place is free, the connection records its presence at its next poll.
    open.resize(47);
    polled->handler.poll_mailbox();
    BOOST_TEST(store().live_slots(hex_id(300)) == 1u);
    open.clear(); // every connection detaches cleanly
    auto const checked = store().check_all();
    BOOST_TEST(checked.consistent, checked.problem);
}

BOOST_FIXTURE_TEST_CASE(a_catch_up_queues_each_missed_blob_once_and_in_order, relay_fixture)
{
    client bob_c(services);
    bob_c.handler.on_handshake(frame_of("h", hello(bob)));
    client sender(services);
    sender.handler.on_handshake(frame_of("h", hello(alice)));
    // Three pushes reach bob, then his queue refuses two, then it has room again.
    bob_c.sink.blob_room = 3;
    for (int i = 0; i < 5; ++i)
        sender.handler.on_message(update("u-" + std::to_string(i), bob, {static_cast<std::uint8_t>(i)}));
    BOOST_TEST_REQUIRE(bob_c.sink.blobs.size() == 3u);
    bob_c.sink.blob_room = SIZE_MAX;
    bob_c.handler.catch_up();
    bob_c.handler.catch_up(); // a second listing finds nothing new
    BOOST_TEST_REQUIRE(bob_c.sink.blobs.size() == 5u);
    for (std::size_t i = 1; i < 5; ++i)
        BOOST_TEST(bob_c.sink.blobs[i].seq > bob_c.sink.blobs[i - 1].seq);
    // A push that arrives late, after its blob was listed, is not queued again.
    auto late = shm::notify_rings::make(shm::notify_kind::push_blob, bob, {});
    late.shard = bob_c.sink.blobs[4].shard;
    late.blob_offset = bob_c.sink.blobs[4].offset;
    late.blob_seq = bob_c.sink.blobs[4].seq;
    bob_c.handler.on_notification(late);
    BOOST_TEST(bob_c.sink.blobs.size() == 5u);
}

BOOST_FIXTURE_TEST_CASE(minimal_legacy_handshake_with_only_client_id_is_accepted, relay_fixture)
{
    client c(services);
    auto const json =
        R"({"version":1,"message_id":"x","timestamp":0,"payload":{"type":"Handshake","client_id":")" + alice + R"("}})";
    BOOST_TEST((c.handler.on_handshake(raw_frame(json)) == verdict::proceed));
    BOOST_TEST(c.sink.frames.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(handshake_with_uppercase_hex_ids_is_accepted_and_routes_case_sensitively, relay_fixture)
{
    auto h = hello(uppercase(alice));
    h.device_id = uppercase(device);
    auto c = connect(h);
    BOOST_TEST(c->handler.routing_id() == uppercase(alice));
    BOOST_TEST(store().live_slots(uppercase(alice)) == 1u);
    BOOST_TEST(store().live_slots(alice) == 0u);
}

BOOST_FIXTURE_TEST_CASE(handshake_queues_pending_blobs_oldest_first_without_sending_them, relay_fixture)
{
    auto sender = connect(bob);
    for (std::uint8_t i = 1; i <= 3; ++i)
        store_from(*sender, "m-" + std::to_string(i), alice, {i, static_cast<std::uint8_t>(i * 10)});

    client c(services);
    BOOST_TEST_REQUIRE((c.handler.on_handshake(frame_of("hs", hello(alice))) == verdict::proceed));
    BOOST_TEST(c.sink.frames.size() == 1u); // only the HandshakeAck: blobs are queued, not sent
    BOOST_TEST_REQUIRE(c.sink.blobs.size() == 3u);
    for (std::uint8_t i = 1; i <= 3; ++i) {
        BOOST_TEST_CONTEXT("blob " << int(i))
        {
            protocol::bytes const expected{i, static_cast<std::uint8_t>(i * 10)};
            BOOST_TEST(update_in(deliver(c, i - 1u)).ciphertext == expected, boost::test_tools::per_element());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(routing_token_replaces_client_id_as_the_mailbox, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "to-token", token, {1});
    store_from(*sender, "to-client", alice, {2});

    auto h = hello(alice);
    h.routing_token = token;
    auto c = connect(h);
    BOOST_TEST(c->handler.routing_id() == token);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    auto const e = deliver(*c, 0);
    BOOST_TEST(update_in(e).recipient_id == token);
    BOOST_TEST(update_in(e).ciphertext == protocol::bytes{1}, boost::test_tools::per_element());
    BOOST_TEST(store().live_slots(token) == 1u);
    BOOST_TEST(store().live_slots(alice) == 0u);
}

BOOST_FIXTURE_TEST_CASE(handshake_with_invalid_ids_closes_without_sending_anything, relay_fixture)
{
    std::vector<std::pair<std::string, protocol::handshake>> cases;
    cases.emplace_back("empty client_id", hello(""));
    cases.emplace_back("63-char client_id", hello(std::string(63, 'a')));
    cases.emplace_back("65-char client_id", hello(std::string(65, 'a')));
    cases.emplace_back("non-hex client_id", hello(std::string(63, 'a') + "g"));
    auto h = hello(alice);
    h.routing_token = std::string(63, '7');
    cases.emplace_back("short routing_token", h);
    h.routing_token = std::string(64, 'z');
    cases.emplace_back("non-hex routing_token", h);
    h = hello(alice);
    h.device_id = std::string(65, 'd');
    cases.emplace_back("long device_id", h);
    h.device_id = std::string();
    cases.emplace_back("empty device_id", h);

    for (auto const& [what, hs] : cases) {
        BOOST_TEST_CONTEXT(what)
        {
            client c(services);
            BOOST_TEST((c.handler.on_handshake(frame_of("hs", hs)) == verdict::close));
            BOOST_TEST(c.sink.silent());
            BOOST_TEST(!c.handler.handshaken());
        }
    }
    BOOST_TEST(store().live_slots(alice) == 0u);
}

BOOST_FIXTURE_TEST_CASE(first_frame_that_is_not_a_handshake_closes_without_sending_anything, relay_fixture)
{
    std::vector<std::pair<std::string, std::string>> cases{
        {"EncryptedUpdate", update("m", bob, {1, 2})},
        {"PurgeRequest", purge_frame("p")},
        {"Acknowledgment", ack_frame(relay::random::new_uuid_string(), protocol::ack_status::stored)},
        {"HandshakeAck", protocol::encode_handshake_ack("id", 1, false)},
        {"unknown type", raw_frame(R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Presence"}})")},
    };
    for (auto const& [what, frame] : cases) {
        BOOST_TEST_CONTEXT(what)
        {
            client c(services);
            BOOST_TEST((c.handler.on_handshake(frame) == verdict::close));
            BOOST_TEST(c.sink.silent());
            BOOST_TEST(!c.handler.handshaken());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(undecodable_first_frame_closes_without_sending_anything, relay_fixture)
{
    std::string const good = frame_of("hs", hello(alice));
    std::vector<std::pair<std::string, std::string>> cases{
        {"empty", ""},
        {"shorter than the prefix", std::string("\0\0\0", 3)},
        {"prefix only", raw_frame("")},
        {"bad json", raw_frame("{\"version\":1,")},
        {"trailing bytes", good + "x"},
        {"missing client_id",
         raw_frame(R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Handshake"}})")},
        {"null suppress_presence",
         raw_frame(R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Handshake","client_id":")" +
                   alice + R"(","suppress_presence":null}})")},
    };
    for (auto const& [what, frame] : cases) {
        BOOST_TEST_CONTEXT(what)
        {
            client c(services);
            BOOST_TEST((c.handler.on_handshake(frame) == verdict::close));
            BOOST_TEST(c.sink.silent());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(handshake_with_some_but_not_all_auth_fields_closes, relay_fixture)
{
    // D-3: partial auth is rejected like a bad signature (Rust accepted it, Q-3).
    auto const full = signed_hello();
    std::vector<std::pair<std::string, protocol::handshake>> cases;
    auto h = hello(vector_key);
    h.nonce = full.nonce;
    cases.emplace_back("nonce only", h);
    h = full;
    h.timestamp.reset();
    cases.emplace_back("no timestamp", h);
    h = full;
    h.signature.reset();
    cases.emplace_back("no signature", h);
    h = full;
    h.identity_public_key.reset();
    cases.emplace_back("no identity_public_key", h);
    for (auto const& [what, hs] : cases) {
        BOOST_TEST_CONTEXT(what)
        {
            client c(services);
            BOOST_TEST((c.handler.on_handshake(frame_of("hs", hs)) == verdict::close));
            BOOST_TEST(c.sink.silent());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(signed_handshake_far_from_the_relay_clock_closes, relay_fixture)
{
    // The §5 vector is signed at 1700000000; the real clock is far past it.
    client c(services);
    BOOST_TEST((c.handler.on_handshake(frame_of("hs", signed_hello())) == verdict::close));
    BOOST_TEST(c.sink.silent());
}

BOOST_AUTO_TEST_CASE(auth_check_verifies_the_protocol_test_vector_at_its_timestamp)
{
    BOOST_TEST((check_handshake_auth(signed_hello(), vector_time) == auth_result::verified));
}

BOOST_AUTO_TEST_CASE(auth_check_accepts_a_skew_of_exactly_sixty_seconds_either_way)
{
    BOOST_TEST((check_handshake_auth(signed_hello(), vector_time + 60) == auth_result::verified));
    BOOST_TEST((check_handshake_auth(signed_hello(), vector_time - 60) == auth_result::verified));
}

BOOST_AUTO_TEST_CASE(auth_check_rejects_a_timestamp_sixty_one_seconds_off)
{
    BOOST_TEST((check_handshake_auth(signed_hello(), vector_time + 61) == auth_result::rejected));
    BOOST_TEST((check_handshake_auth(signed_hello(), vector_time - 61) == auth_result::rejected));
}

BOOST_AUTO_TEST_CASE(auth_check_rejects_a_tampered_signature_nonce_or_timestamp)
{
    auto h = signed_hello();
    h.signature->back() = 'd';
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
    h = signed_hello();
    h.nonce->front() = '5';
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
    h = signed_hello();
    h.timestamp = vector_time + 1; // signed over the timestamp: one second changes the message
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
}

BOOST_AUTO_TEST_CASE(auth_check_rejects_an_uppercase_client_id)
{
    auto h = signed_hello();
    h.client_id = uppercase(vector_key);
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
}

BOOST_AUTO_TEST_CASE(auth_check_accepts_an_uppercase_public_key_matching_a_lowercase_client_id)
{
    auto h = signed_hello();
    h.identity_public_key = uppercase(vector_key);
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::verified));
}

BOOST_AUTO_TEST_CASE(auth_check_rejects_a_key_that_is_not_the_client_id)
{
    auto h = signed_hello();
    h.client_id = alice;
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
}

BOOST_AUTO_TEST_CASE(auth_check_rejects_fields_of_the_wrong_size_or_encoding)
{
    auto h = signed_hello();
    h.nonce = std::string(62, '4');
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
    h = signed_hello();
    h.signature = vector_signature.substr(2);
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
    h = signed_hello();
    h.identity_public_key = std::string(63, 'a') + "x";
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
}

BOOST_AUTO_TEST_CASE(auth_check_treats_no_auth_fields_as_unauthenticated_and_some_as_rejected)
{
    BOOST_TEST((check_handshake_auth(hello(alice), vector_time) == auth_result::unauthenticated));
    auto h = signed_hello();
    h.signature.reset();
    BOOST_TEST((check_handshake_auth(h, vector_time) == auth_result::rejected));
}

BOOST_AUTO_TEST_SUITE_END()
