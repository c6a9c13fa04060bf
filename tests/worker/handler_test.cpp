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

// ===================== EncryptedUpdate (§7.3, D-8, D-9, §10.4) =====================

BOOST_FIXTURE_TEST_CASE(encrypted_update_is_answered_stored_echoing_the_envelope_message_id, relay_fixture)
{
    auto sender = connect(bob);
    sender->handler.on_message(update("client-msg-42", alice, {23, 4, 250, 0, 17}));
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    auto const e = decoded(sender->sink.frames[0]);
    BOOST_TEST(is_uuid(e.message_id));
    auto const a = ack_in(sender->sink.frames[0]);
    BOOST_TEST(a.message_id == "client-msg-42");
    BOOST_TEST(protocol::to_string(a.status) == "Stored");
    BOOST_TEST(store().pending_count(alice) == 1u);
}

BOOST_FIXTURE_TEST_CASE(encrypted_update_with_empty_ciphertext_is_stored, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {});
    auto c = connect(alice);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    BOOST_TEST(update_in(deliver(*c, 0)).ciphertext.empty());
}

BOOST_FIXTURE_TEST_CASE(encrypted_update_for_an_invalid_recipient_is_failed_and_not_stored, relay_fixture)
{
    auto sender = connect(bob);
    for (std::string const& recipient :
         {std::string(), std::string(63, 'a'), std::string(65, 'a'), std::string(63, 'a') + "-"}) {
        BOOST_TEST_CONTEXT("recipient of " << recipient.size() << " chars")
        {
            sender->sink.frames.clear();
            sender->handler.on_message(update("bad-rcpt", recipient, {1}));
            BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
            auto const a = ack_in(sender->sink.frames[0]);
            BOOST_TEST(a.message_id == "bad-rcpt");
            BOOST_TEST(protocol::to_string(a.status) == "Failed");
        }
    }
    BOOST_TEST(store().totals().blobs == 0u);
}

BOOST_FIXTURE_TEST_CASE(blob_count_quota_answers_failed_once_reached, relay_fixture)
{
    cfg.max_blobs_per_user = 2;
    auto sender = connect(bob);
    store_from(*sender, "1", alice, {1});
    store_from(*sender, "2", alice, {2});
    sender->handler.on_message(update("3", alice, {3}));
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender->sink.frames[0]).message_id == "3");
    BOOST_TEST(status_of(sender->sink.frames[0]) == "Failed");
    BOOST_TEST(store().pending_count(alice) == 2u);
    store_from(*sender, "4", carol, {4}); // the quota is per recipient
}

BOOST_FIXTURE_TEST_CASE(byte_quota_counts_forty_four_bytes_of_overhead_per_blob, relay_fixture)
{
    // §10.4 example: limit 200, a first 100-byte blob accounts 144, a second
    // 100-byte blob would make 244 > 200; 56 bytes make exactly 200 and fit.
    cfg.max_storage_per_user = 200;
    auto sender = connect(bob);
    store_from(*sender, "first", alice, protocol::bytes(100, 9));
    sender->handler.on_message(update("second", alice, protocol::bytes(100, 9)));
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender->sink.frames[0]).message_id == "second");
    BOOST_TEST(status_of(sender->sink.frames[0]) == "Failed");
    store_from(*sender, "third", alice, protocol::bytes(56, 9));
    BOOST_TEST(store().pending_count(alice) == 2u);
}

// ===================== delivery (§7.3 R→C, §8.2, D-6, D-7) =====================

BOOST_FIXTURE_TEST_CASE(delivery_carries_the_exact_ciphertext_the_routing_id_and_the_blob_id, relay_fixture)
{
    auto sender = connect(bob);
    protocol::bytes const data{23, 4, 250, 0, 17, 255};
    store_from(*sender, "sender-msg", alice, data);
    auto c = connect(alice);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    auto const out = c->handler.load_delivery(c->sink.blobs[0]);
    BOOST_TEST_REQUIRE(out.has_value());
    BOOST_TEST(out->frame.find("sender_id") == std::string::npos);
    auto const e = decoded(out->frame);
    BOOST_TEST(update_in(e).recipient_id == alice);
    BOOST_TEST(update_in(e).ciphertext == data, boost::test_tools::per_element());
    auto const blob = store().fetch(c->sink.blobs[0], alice);
    BOOST_TEST_REQUIRE(blob.has_value());
    BOOST_TEST(e.message_id == relay::random::to_string(blob->blob_id));
    BOOST_TEST(e.message_id != "sender-msg");
    // Delivery does not delete (§8.2).
    BOOST_TEST(store().pending_count(alice) == 1u);
    BOOST_TEST(c->handler.load_delivery(c->sink.blobs[0]).has_value());
}

BOOST_FIXTURE_TEST_CASE(delivery_of_a_large_blob_reads_back_every_byte, relay_fixture)
{
    auto sender = connect(bob);
    protocol::bytes data(150000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    store_from(*sender, "big", alice, data);
    auto c = connect(alice);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    BOOST_TEST((update_in(deliver(*c, 0)).ciphertext == data));
}

BOOST_FIXTURE_TEST_CASE(first_delivery_sends_delivered_with_the_senders_message_id_exactly_once, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "sender-msg-1", alice, {1});
    auto c = connect(alice);
    BOOST_TEST(sender->sink.silent());
    deliver(*c, 0);
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    auto const e = decoded(sender->sink.frames[0]);
    BOOST_TEST(is_uuid(e.message_id));
    auto const a = ack_in(sender->sink.frames[0]);
    BOOST_TEST(a.message_id == "sender-msg-1");
    BOOST_TEST(protocol::to_string(a.status) == "Delivered");
    BOOST_TEST(sender->sink.touches == 1);
    BOOST_TEST(c->sink.frames.empty()); // nothing extra to the recipient

    deliver(*c, 0);              // handed over again on the same connection
    auto again = connect(alice); // and to a new connection
    deliver(*again, 0);
    BOOST_TEST(sender->sink.frames.size() == 1u);
    BOOST_TEST(sender->sink.touches == 1);
}

BOOST_FIXTURE_TEST_CASE(delivered_is_sent_for_an_empty_envelope_id_but_not_beyond_the_id_limit, relay_fixture)
{
    // Any string is a valid message_id (§3.3), the empty one included; ids over
    // max_sender_message_id are not remembered (documented limit).
    auto sender = connect(bob);
    store_from(*sender, "", alice, {1});
    store_from(*sender, std::string(shm::max_sender_message_id + 1, 'x'), alice, {2});
    auto c = connect(alice);
    deliver(*c, 0);
    deliver(*c, 1);
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender->sink.frames[0]).message_id == "");
}

BOOST_FIXTURE_TEST_CASE(acknowledgment_with_an_uppercase_blob_id_deletes_nothing, relay_fixture)
{
    // Ids compare case-sensitively (§1): only the exact id the relay sent counts.
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto c = connect(alice);
    auto id = deliver(*c, 0).message_id;
    for (auto& ch : id)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    c->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    BOOST_TEST(store().pending_count(alice) == 1u);
}

BOOST_FIXTURE_TEST_CASE(delivered_reaches_every_live_connection_of_the_sender, relay_fixture)
{
    auto sender = connect(bob);
    auto sender_tablet = connect(bob);
    store_from(*sender, "m-1", alice, {1});
    auto c = connect(alice);
    deliver(*c, 0);
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST_REQUIRE(sender_tablet->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender_tablet->sink.frames[0]).message_id == "m-1");
}

BOOST_FIXTURE_TEST_CASE(suppress_presence_recipient_triggers_no_delivered_and_keeps_it_due, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m-quiet", alice, {1});
    auto h = hello(alice);
    h.suppress_presence = true;
    auto quiet = connect(h);
    BOOST_TEST_REQUIRE(quiet->sink.blobs.size() == 1u);
    deliver(*quiet, 0);
    BOOST_TEST(sender->sink.silent());
    // §8.3: with suppress_presence the record stays, so a later ordinary
    // connection of the recipient still triggers Delivered.
    auto loud = connect(alice);
    deliver(*loud, 0);
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender->sink.frames[0]).message_id == "m-quiet");
    BOOST_TEST(status_of(sender->sink.frames[0]) == "Delivered");
}

BOOST_FIXTURE_TEST_CASE(delivered_for_a_sender_on_another_worker_goes_through_its_ring_and_eventfd, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m-remote", alice, {1});
    sender.reset();
    store().attach(bob, 1); // the sender reconnected on worker 1
    auto c = connect(alice);
    deliver(*c, 0);
    auto const entries = services.rings().drain(1).entries;
    BOOST_TEST_REQUIRE(entries.size() == 1u);
    BOOST_TEST(entries[0].kind == static_cast<std::uint8_t>(shm::notify_kind::delivered));
    BOOST_TEST(std::string_view(entries[0].routing_id, shm::key_size) == bob);
    BOOST_TEST(std::string_view(entries[0].message_id, entries[0].message_id_len) == "m-remote");
    std::uint64_t n = 0;
    BOOST_TEST(::read(event_fds[1], &n, sizeof n) == static_cast<ssize_t>(sizeof n));
    BOOST_TEST(n == 1u);
    BOOST_TEST(services.rings().drain(0).entries.empty());
}

BOOST_FIXTURE_TEST_CASE(load_delivery_of_a_deleted_blob_is_nullopt, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto c = connect(alice);
    auto const id = deliver(*c, 0).message_id;
    c->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    BOOST_TEST(!c->handler.load_delivery(c->sink.blobs[0]).has_value());
}

// ===================== Acknowledgment (§7.4, D-7) =====================

BOOST_FIXTURE_TEST_CASE(acknowledgment_from_the_recipient_deletes_whatever_its_status, relay_fixture)
{
    using protocol::ack_status;
    auto sender = connect(bob);
    std::vector<ack_status> const statuses{ack_status::stored, ack_status::delivered, ack_status::failed,
                                           ack_status::received_by_recipient};
    for (std::size_t i = 0; i < statuses.size(); ++i)
        store_from(*sender, "m" + std::to_string(i), alice, {static_cast<std::uint8_t>(i)});
    auto c = connect(alice);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == statuses.size());
    for (std::size_t i = 0; i < statuses.size(); ++i) {
        BOOST_TEST_CONTEXT("status " << protocol::to_string(statuses[i]))
        {
            auto const id = deliver(*c, i).message_id;
            c->handler.on_message(ack_frame(id, statuses[i]));
            BOOST_TEST(store().pending_count(alice) == statuses.size() - i - 1);
        }
    }
    BOOST_TEST(c->sink.frames.empty()); // acknowledgments are [SILENT]
}

BOOST_FIXTURE_TEST_CASE(acknowledgment_from_another_routing_id_deletes_nothing, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto c = connect(alice);
    auto const id = deliver(*c, 0).message_id;
    auto intruder = connect(carol);
    intruder->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    sender->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    BOOST_TEST(store().pending_count(alice) == 1u);
    BOOST_TEST(intruder->sink.silent());
}

BOOST_FIXTURE_TEST_CASE(acknowledgment_of_an_unknown_or_malformed_id_is_silent, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto c = connect(alice);
    c->sink.blobs.clear();
    c->handler.on_message(ack_frame(relay::random::new_uuid_string(), protocol::ack_status::received_by_recipient));
    c->handler.on_message(ack_frame("not-a-uuid", protocol::ack_status::received_by_recipient));
    BOOST_TEST(store().pending_count(alice) == 1u);
    BOOST_TEST(c->sink.silent());
    BOOST_TEST(sender->sink.silent());
}

BOOST_FIXTURE_TEST_CASE(received_by_recipient_is_forwarded_to_the_sender_with_its_message_id, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m-read", alice, {1});
    auto c = connect(alice);
    auto const id = deliver(*c, 0).message_id;
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u); // Delivered
    c->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 2u);
    auto const a = ack_in(sender->sink.frames[1]);
    BOOST_TEST(a.message_id == "m-read");
    BOOST_TEST(protocol::to_string(a.status) == "ReceivedByRecipient");
    BOOST_TEST(sender->sink.touches == 2);
    BOOST_TEST(c->sink.frames.empty());
}

BOOST_FIXTURE_TEST_CASE(acknowledgment_with_another_status_is_not_forwarded, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto c = connect(alice);
    auto const id = deliver(*c, 0).message_id;
    sender->sink.frames.clear();
    c->handler.on_message(ack_frame(id, protocol::ack_status::delivered));
    BOOST_TEST(store().pending_count(alice) == 0u);
    BOOST_TEST(sender->sink.frames.empty());
}

BOOST_FIXTURE_TEST_CASE(received_by_recipient_from_a_suppress_presence_client_is_not_forwarded, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    auto h = hello(alice);
    h.suppress_presence = true;
    auto c = connect(h);
    auto const id = deliver(*c, 0).message_id;
    c->handler.on_message(ack_frame(id, protocol::ack_status::received_by_recipient));
    BOOST_TEST(store().pending_count(alice) == 0u);
    BOOST_TEST(sender->sink.silent());
}

// ===================== live push (D-4, D-5) =====================

BOOST_FIXTURE_TEST_CASE(blob_stored_for_a_live_recipient_is_queued_on_every_connection_at_once, relay_fixture)
{
    auto phone = connect(alice);
    auto tablet = connect(alice);
    auto other = connect(carol);
    auto sender = connect(bob);
    store_from(*sender, "live-1", alice, {5, 6, 7});
    BOOST_TEST_REQUIRE(phone->sink.blobs.size() == 1u);
    BOOST_TEST_REQUIRE(tablet->sink.blobs.size() == 1u);
    BOOST_TEST(other->sink.blobs.empty());
    BOOST_TEST(sender->sink.blobs.empty());
    auto const e = deliver(*phone, 0);
    BOOST_TEST(update_in(e).recipient_id == alice);
    BOOST_TEST(update_in(e).ciphertext == (protocol::bytes{5, 6, 7}), boost::test_tools::per_element());
    BOOST_TEST(deliver(*tablet, 0).message_id == e.message_id);
    // One Delivered for the two hand-overs (D-7).
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(sender->sink.frames[0]).message_id == "live-1");
    BOOST_TEST(store().pending_count(alice) == 1u); // stays until acknowledged
}

BOOST_FIXTURE_TEST_CASE(closing_one_connection_keeps_live_push_to_the_other, relay_fixture)
{
    auto phone = connect(alice);
    auto tablet = connect(alice);
    phone.reset();
    BOOST_TEST(store().live_slots(alice) == 1u);
    auto sender = connect(bob);
    store_from(*sender, "m", alice, {1});
    BOOST_TEST(tablet->sink.blobs.size() == 1u);
}

// ===================== pipeline: size, rate, decode, dispatch (§4.5, §10) =====================

BOOST_FIXTURE_TEST_CASE(frame_over_the_size_limit_is_dropped_without_spending_a_token, relay_fixture)
{
    cfg.rate_limit = 1;
    auto sender = connect(bob);
    auto const frame = update("sized", alice, protocol::bytes(40, 1));
    cfg.max_message_size = frame.size() - 1;
    sender->handler.on_message(frame);
    BOOST_TEST(sender->sink.silent());
    BOOST_TEST(store().pending_count(alice) == 0u);
    cfg.max_message_size = frame.size(); // the limit includes the prefix and is inclusive
    sender->handler.on_message(frame);
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 1u);
    BOOST_TEST(status_of(sender->sink.frames[0]) == "Stored");
}

BOOST_FIXTURE_TEST_CASE(messages_beyond_the_rate_limit_are_silently_dropped, relay_fixture)
{
    cfg.rate_limit = 3;
    auto sender = connect(bob);
    for (int i = 0; i < 4; ++i)
        sender->handler.on_message(update("m" + std::to_string(i), alice, {1}));
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 3u);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(ack_in(sender->sink.frames[static_cast<std::size_t>(i)]).message_id == "m" + std::to_string(i));
    BOOST_TEST(store().pending_count(alice) == 3u);
    BOOST_TEST(sender->sink.blobs.empty());
    BOOST_TEST(sender->sink.touches == 0);
}

BOOST_FIXTURE_TEST_CASE(connections_of_one_routing_id_share_one_bucket, relay_fixture)
{
    cfg.rate_limit = 2;
    auto first = connect(bob);
    auto second = connect(bob);
    first->handler.on_message(update("a", alice, {1}));
    second->handler.on_message(update("b", alice, {1}));
    second->handler.on_message(update("c", alice, {1}));
    BOOST_TEST(first->sink.frames.size() == 1u);
    BOOST_TEST(second->sink.frames.size() == 1u);
    auto other = connect(carol); // another routing id has its own bucket
    other->handler.on_message(update("d", alice, {1}));
    BOOST_TEST(other->sink.frames.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(rate_limit_of_zero_blocks_every_message, relay_fixture)
{
    cfg.rate_limit = 0;
    auto sender = connect(bob);
    sender->handler.on_message(update("m", alice, {1}));
    sender->handler.on_message(purge_frame("p"));
    BOOST_TEST(sender->sink.silent());
}

BOOST_FIXTURE_TEST_CASE(undecodable_message_after_the_handshake_is_silent_and_keeps_the_session, relay_fixture)
{
    auto sender = connect(bob);
    for (
        std::string const& bad :
        {std::string(), std::string("\0\0", 2), raw_frame("{not json"),
         raw_frame(R"({"version":1,"message_id":"m","timestamp":0})"),
         raw_frame(
             R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Acknowledgment","message_id":"x","status":"stored"}})")}) {
        sender->handler.on_message(bad);
    }
    BOOST_TEST(sender->sink.silent());
    store_from(*sender, "after", alice, {1});
}

BOOST_FIXTURE_TEST_CASE(undecodable_message_still_spends_a_token, relay_fixture)
{
    cfg.rate_limit = 1;
    auto sender = connect(bob);
    sender->handler.on_message(raw_frame("garbage"));
    sender->handler.on_message(update("m", alice, {1}));
    BOOST_TEST(sender->sink.silent());
    BOOST_TEST(store().pending_count(alice) == 0u);
}

BOOST_FIXTURE_TEST_CASE(unknown_and_relay_to_client_payload_types_are_silent, relay_fixture)
{
    auto c = connect(alice);
    protocol::purge_response pr;
    pr.blobs_deleted = 3;
    std::vector<std::string> const frames{
        raw_frame(R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"Presence","online":true}})"),
        raw_frame(R"({"version":1,"message_id":"m","timestamp":0,"payload":{"type":"ValidationRecord"}})"),
        frame_of("hs-again", hello(carol)),
        protocol::encode_handshake_ack("x", 1, false),
        frame_of("pr", pr),
        frame_of("fh", protocol::forwarding_hints{}),
        frame_of("rpr", protocol::recovery_proof_response{}),
    };
    for (auto const& f : frames)
        c->handler.on_message(f);
    BOOST_TEST(c->sink.silent());
    BOOST_TEST(c->handler.routing_id() == alice); // a second Handshake changes nothing
    BOOST_TEST(store().live_slots(carol) == 0u);
}

// ===================== PurgeRequest (§7.10) =====================

BOOST_FIXTURE_TEST_CASE(purge_request_deletes_the_mailbox_and_echoes_the_request_id_with_the_count, relay_fixture)
{
    auto sender = connect(bob);
    for (std::uint8_t i = 0; i < 3; ++i)
        store_from(*sender, "m" + std::to_string(i), alice, {i});
    store_from(*sender, "keep", carol, {9});
    auto c = connect(alice);
    c->handler.on_message(purge_frame("purge-req-7"));
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 1u);
    auto const e = decoded(c->sink.frames[0]);
    BOOST_TEST(e.message_id == "purge-req-7");
    auto const* r = std::get_if<protocol::purge_response>(&e.body);
    BOOST_TEST_REQUIRE(r != nullptr);
    BOOST_TEST(r->blobs_deleted == 3u);
    BOOST_TEST(r->device_sync_deleted == 0u);
    BOOST_TEST(r->recovery_proofs_deleted == 0u);
    BOOST_TEST(store().pending_count(alice) == 0u);
    BOOST_TEST(store().pending_count(carol) == 1u);
    BOOST_TEST(!c->handler.load_delivery(c->sink.blobs[0]).has_value());

    c->sink.frames.clear();
    c->handler.on_message(purge_frame("purge-again"));
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 1u);
    auto const again = decoded(c->sink.frames[0]);
    BOOST_TEST(std::get<protocol::purge_response>(again.body).blobs_deleted == 0u);
}

// ===================== AccountRevoked (§7.5) =====================

BOOST_FIXTURE_TEST_CASE(account_revoked_is_stored_as_the_re_encoded_frame, relay_fixture)
{
    auto revoker = connect(bob);
    // Keys out of order, whitespace and an unknown key: the stored blob is our
    // own compact re-encoding of the parsed envelope, prefix included.
    std::string const input = R"({ "payload": {"signature":[12,200,7], "recipient_id":")" + alice +
        R"(", "extra":{"x":1}, "type":"AccountRevoked", "sender_id":")" + bob +
        R"(", "timestamp":1700000000}, "timestamp": 5, "message_id":"rev-1", "version":1 })";
    revoker->handler.on_message(raw_frame(input));
    BOOST_TEST_REQUIRE(revoker->sink.frames.size() == 1u);
    auto const a = ack_in(revoker->sink.frames[0]);
    BOOST_TEST(a.message_id == "rev-1");
    BOOST_TEST(protocol::to_string(a.status) == "Stored");

    protocol::account_revoked body;
    body.sender_id = bob;
    body.recipient_id = alice;
    body.timestamp = 1700000000;
    body.signature = {12, 200, 7};
    protocol::envelope expected;
    expected.message_id = "rev-1";
    expected.timestamp = 5;
    expected.body = body;
    std::string const expected_frame = protocol::encode_frame(expected);

    auto c = connect(alice);
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    auto const delivered = update_in(deliver(*c, 0)).ciphertext;
    BOOST_TEST(std::string(delivered.begin(), delivered.end()) == expected_frame);
    BOOST_TEST(revoker->sink.frames.size() == 1u); // no sender record: no Delivered
}

BOOST_FIXTURE_TEST_CASE(account_revoked_for_an_invalid_recipient_is_failed, relay_fixture)
{
    auto revoker = connect(bob);
    protocol::account_revoked body;
    body.sender_id = bob;
    body.recipient_id = "not-hex";
    revoker->handler.on_message(frame_of("rev-bad", body));
    BOOST_TEST_REQUIRE(revoker->sink.frames.size() == 1u);
    BOOST_TEST(ack_in(revoker->sink.frames[0]).message_id == "rev-bad");
    BOOST_TEST(status_of(revoker->sink.frames[0]) == "Failed");
    BOOST_TEST(store().totals().blobs == 0u);
}

BOOST_FIXTURE_TEST_CASE(account_revoked_ignores_the_byte_quota_but_not_the_count_quota, relay_fixture)
{
    cfg.max_storage_per_user = 10;
    cfg.max_blobs_per_user = 1;
    auto revoker = connect(bob);
    protocol::account_revoked body;
    body.sender_id = bob;
    body.recipient_id = alice;
    body.signature = protocol::bytes(50, 1);
    revoker->handler.on_message(frame_of("rev-1", body));
    revoker->handler.on_message(frame_of("rev-2", body));
    BOOST_TEST_REQUIRE(revoker->sink.frames.size() == 2u);
    BOOST_TEST(status_of(revoker->sink.frames[0]) == "Stored");
    BOOST_TEST(status_of(revoker->sink.frames[1]) == "Failed");
    BOOST_TEST(store().pending_count(alice) == 1u);
}

// ===================== teardown =====================

BOOST_FIXTURE_TEST_CASE(destroying_a_handshaken_handler_detaches_its_presence, relay_fixture)
{
    auto c = connect(alice);
    BOOST_TEST(store().live_slots(alice) == 1u);
    BOOST_TEST(services.local_handlers(alice) != nullptr);
    c.reset();
    BOOST_TEST(store().live_slots(alice) == 0u);
    BOOST_TEST(services.local_handlers(alice) == nullptr);
}

BOOST_FIXTURE_TEST_CASE(destroying_a_handler_that_never_handshook_changes_nothing, relay_fixture)
{
    auto other = connect(alice);
    {
        client c(services);
        BOOST_TEST((c.handler.on_handshake(frame_of("hs", hello("bad"))) == verdict::close));
    }
    BOOST_TEST(store().live_slots(alice) == 1u);
    BOOST_TEST_REQUIRE(services.local_handlers(alice) != nullptr);
    BOOST_TEST(services.local_handlers(alice)->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
