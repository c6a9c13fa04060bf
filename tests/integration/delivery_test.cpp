// Store-and-forward across workers (docs/protocol.md#s7-3, §7.4, §8, D-4 to D-9).

#include <set>
#include <thread>

#include "common/random.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::acknowledgment;
using relay::protocol::encrypted_update;

BOOST_AUTO_TEST_SUITE(delivery)

BOOST_AUTO_TEST_CASE(blob_for_an_offline_recipient_is_delivered_at_connect_and_the_sender_hears_delivered)
{
    relay_process relay;
    std::string const alice = random_id(), bob = random_id();
    auto sender = connect_as(relay.port(), alice);
    auto const data = random_bytes(300);
    std::string const msg_id = relay::random::new_uuid_string();
    sender->send_binary(update_frame(bob, data, msg_id));
    expect_ack(*sender, msg_id, ack_status::stored);

    auto recipient = connect_as(relay.port(), bob);
    auto const e = recipient->receive_envelope();
    auto const& u = expect_payload<encrypted_update>(e);
    BOOST_TEST(u.recipient_id == bob);
    BOOST_TEST(u.ciphertext == data, boost::test_tools::per_element());
    relay::random::uuid parsed{};
    BOOST_TEST(relay::random::parse_uuid(e->message_id, parsed)); // the relay's blob id
    BOOST_TEST(e->message_id != msg_id);

    // D-6: Delivered carries the sender's own message id.
    expect_ack(*sender, msg_id, ack_status::delivered);

    // D-7: the recipient's receipt is forwarded to the sender, once.
    recipient->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
    expect_ack(*sender, msg_id, ack_status::received_by_recipient);

    // Acknowledged: gone for the next connection.
    auto again = connect_as(relay.port(), bob);
    BOOST_TEST(again->silent_for(500ms));
}

BOOST_AUTO_TEST_CASE(pending_blobs_are_redelivered_until_acknowledged_in_arrival_order)
{
    relay_process relay;
    std::string const bob = random_id();
    auto sender = connect_as(relay.port(), random_id());
    std::vector<std::vector<std::uint8_t>> sent;
    for (int i = 0; i < 20; ++i) {
        sent.push_back(random_bytes(static_cast<std::size_t>(1 + i * 37)));
        std::string const id = relay::random::new_uuid_string();
        sender->send_binary(update_frame(bob, sent.back(), id));
        expect_ack(*sender, id, ack_status::stored);
    }
    for (int round = 0; round < 2; ++round) {
        auto r = connect_as(relay.port(), bob);
        for (auto const& expected : sent) {
            auto const e = r->receive_envelope();
            BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == expected, boost::test_tools::per_element());
        }
        BOOST_TEST(r->silent_for(300ms));
    }
}

BOOST_AUTO_TEST_CASE(a_batch_of_pending_blobs_holds_back_no_frame_that_follows_it)
{
    // The writer corks the socket while frames queue behind each other
    // (ws_session::pump). Were the cork left on, the kernel would hold the
    // tail of the batch, and then every lone frame, for up to 200 ms each.
    relay_process relay;
    std::string const bob = random_id();
    auto sender = connect_as(relay.port(), random_id());
    for (int i = 0; i < 50; ++i) {
        std::string const id = "b" + std::to_string(i);
        sender->send_binary(update_frame(bob, random_bytes(400), id));
        expect_ack(*sender, id, ack_status::stored);
    }
    auto r = connect_as(relay.port(), bob);
    for (int i = 0; i < 50; ++i) {
        auto const e = r->receive_envelope();
        expect_payload<encrypted_update>(e);
    }
    for (int i = 0; i < 50; ++i)
        expect_ack(*sender, "b" + std::to_string(i), ack_status::delivered);
    auto const started = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) {
        auto const data = random_bytes(100);
        std::string const id = "live" + std::to_string(i);
        sender->send_binary(update_frame(bob, data, id));
        expect_ack(*sender, id, ack_status::stored);
        auto const e = r->receive_envelope();
        BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == data, boost::test_tools::per_element());
        expect_ack(*sender, id, ack_status::delivered);
    }
    auto const spent = std::chrono::steady_clock::now() - started;
    // Uncorked, ten pushes take milliseconds; held back, at least two seconds.
    BOOST_TEST(spent < 1000ms, std::chrono::duration_cast<std::chrono::milliseconds>(spent).count() << " ms");
}

BOOST_AUTO_TEST_CASE(two_hundred_pairs_over_separate_connections_get_exact_bytes_in_order)
{
    // Four workers: most pairs have sender and recipient on different workers,
    // so this also exercises Delivered through the notification rings.
    relay_process relay;
    constexpr int pairs = 200, per_pair = 3;
    std::vector<std::string> recipients;
    std::vector<std::vector<std::vector<std::uint8_t>>> payloads(pairs);
    std::vector<std::unique_ptr<ws_client>> senders;
    auto msg = [](int p, int k) { return "p" + std::to_string(p) + "k" + std::to_string(k); };
    for (int p = 0; p < pairs; ++p) {
        recipients.push_back(random_id());
        senders.push_back(connect_as(relay.port(), random_id()));
    }
    for (int k = 0; k < per_pair; ++k)
        for (int p = 0; p < pairs; ++p) {
            payloads[p].push_back(random_bytes(static_cast<std::size_t>(16 + (p * 7 + k * 131) % 2000)));
            senders[p]->send_binary(update_frame(recipients[p], payloads[p].back(), msg(p, k)));
        }
    for (int p = 0; p < pairs; ++p)
        for (int k = 0; k < per_pair; ++k)
            expect_ack(*senders[p], msg(p, k), ack_status::stored);
    for (int p = 0; p < pairs; ++p) {
        auto r = connect_as(relay.port(), recipients[p]);
        for (int k = 0; k < per_pair; ++k) {
            auto const e = r->receive_envelope();
            auto const& u = expect_payload<encrypted_update>(e);
            BOOST_REQUIRE(u.ciphertext == payloads[p][k]);
            BOOST_REQUIRE(u.recipient_id == recipients[p]);
        }
        for (int k = 0; k < per_pair; ++k)
            expect_ack(*senders[p], msg(p, k), ack_status::delivered);
    }
}

BOOST_AUTO_TEST_CASE(live_push_reaches_every_connection_of_an_online_recipient_on_any_worker)
{
    relay_process relay;
    std::string const bob = random_id();
    // Several connections of the same routing id (D-4), likely on several workers.
    std::vector<std::unique_ptr<ws_client>> bobs;
    for (int i = 0; i < 6; ++i)
        bobs.push_back(connect_as(relay.port(), bob));
    std::this_thread::sleep_for(100ms);
    bobs.pop_back(); // closing one connection must not unregister the others
    std::this_thread::sleep_for(100ms);

    std::string const alice = random_id();
    auto sender = connect_as(relay.port(), alice);
    auto const data = random_bytes(100);
    sender->send_binary(update_frame(bob, data, "live-1"));
    expect_ack(*sender, "live-1", ack_status::stored);
    std::string blob_id;
    for (auto& b : bobs) {
        auto const e = b->receive_envelope(2000ms);
        BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == data, boost::test_tools::per_element());
        blob_id = e->message_id;
    }
    // Delivered once (D-7), even though five connections received it.
    expect_ack(*sender, "live-1", ack_status::delivered);
    BOOST_TEST(sender->silent_for(500ms));
    // It stays stored until acknowledged.
    auto late = connect_as(relay.port(), bob);
    BOOST_TEST(late->receive_envelope()->message_id == blob_id);
}

BOOST_AUTO_TEST_CASE(suppress_presence_hides_delivered_and_receipts_from_the_sender)
{
    relay_process relay;
    std::string const bob = random_id();
    auto sender = connect_as(relay.port(), random_id());
    sender->send_binary(update_frame(bob, {1, 2, 3}, "quiet"));
    expect_ack(*sender, "quiet", ack_status::stored);
    auto r = connect_as(relay.port(), bob, suppressed());
    auto const e = r->receive_envelope();
    r->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
    BOOST_TEST(sender->silent_for(800ms));
}

BOOST_AUTO_TEST_CASE(routing_token_replaces_client_id_as_the_mailbox)
{
    relay_process relay;
    std::string const token = random_id(), bob = random_id();
    auto sender = connect_as(relay.port(), random_id());
    sender->send_binary(update_frame(token, {9, 9}, "tok"));
    expect_ack(*sender, "tok", ack_status::stored);
    auto plain = connect_as(relay.port(), bob);
    BOOST_TEST(plain->silent_for(300ms));
    auto tokened = connect_as(relay.port(), bob, with_token(token));
    auto const e = tokened->receive_envelope();
    BOOST_TEST(expect_payload<encrypted_update>(e).recipient_id == token);
}

BOOST_AUTO_TEST_CASE(acknowledgment_only_deletes_blobs_of_the_own_routing_id)
{
    relay_process relay;
    std::string const bob = random_id(), mallory = random_id();
    auto sender = connect_as(relay.port(), random_id());
    sender->send_binary(update_frame(bob, {1}, "x"));
    expect_ack(*sender, "x", ack_status::stored);
    auto b = connect_as(relay.port(), bob);
    auto const blob_id = b->receive_envelope()->message_id;
    auto m = connect_as(relay.port(), mallory);
    m->send_binary(ack_frame(blob_id, ack_status::received_by_recipient));
    std::this_thread::sleep_for(200ms);
    auto b2 = connect_as(relay.port(), bob);
    BOOST_TEST(b2->receive_envelope()->message_id == blob_id);
}

BOOST_AUTO_TEST_CASE(invalid_recipient_and_quotas_answer_failed)
{
    relay_process relay(with_env({{"RELAY_MAX_BLOBS_PER_USER", "2"}, {"RELAY_MAX_STORAGE_PER_USER", "200"}}));
    auto sender = connect_as(relay.port(), random_id());
    sender->send_binary(update_frame("not-a-routing-id", {1}, "bad"));
    expect_ack(*sender, "bad", ack_status::failed); // D-9
    std::string const bob = random_id();
    // §10.4: 100 bytes → 144 accounted; a second 100-byte blob would be 244 > 200.
    sender->send_binary(update_frame(bob, random_bytes(100), "q1"));
    expect_ack(*sender, "q1", ack_status::stored);
    sender->send_binary(update_frame(bob, random_bytes(100), "q2"));
    expect_ack(*sender, "q2", ack_status::failed);
    sender->send_binary(update_frame(bob, random_bytes(10), "q3"));
    expect_ack(*sender, "q3", ack_status::stored);
    sender->send_binary(update_frame(bob, random_bytes(1), "q4"));
    expect_ack(*sender, "q4", ack_status::failed); // count quota of 2
}

BOOST_AUTO_TEST_CASE(oversized_rate_limited_and_garbage_messages_are_dropped_silently)
{
    relay_process relay(with_env({{"RELAY_RATE_LIMIT", "5"}, {"RELAY_MAX_MESSAGE_SIZE", "2000"}}));
    std::string const alice = random_id(), bob = random_id();
    auto c = connect_as(relay.port(), alice);
    c->send_binary(update_frame(bob, random_bytes(1500), "big")); // > 2000 bytes of JSON: no token spent
    c->send_binary(std::string("\x00\x00\x00\x05{oops", 9));      // undecodable: costs a token
    c->send_text("hello");                                        // text: ignored, free
    for (int i = 0; i < 5; ++i)
        c->send_binary(update_frame(bob, {1}, "r" + std::to_string(i)));
    for (int i = 0; i < 4; ++i)
        expect_ack(*c, "r" + std::to_string(i), ack_status::stored);
    BOOST_TEST(c->silent_for(500ms)); // r4 was over the limit of 5
    // Another connection of the same routing id shares the bucket (D-11),
    // wherever it lands.
    auto c2 = connect_as(relay.port(), alice);
    c2->send_binary(update_frame(bob, {1}, "shared"));
    BOOST_TEST(c2->silent_for(500ms));
}

BOOST_AUTO_TEST_CASE(account_revoked_is_stored_as_the_reencoded_frame)
{
    relay_process relay;
    std::string const bob = random_id();
    auto c = connect_as(relay.port(), random_id());
    relay::protocol::account_revoked rv;
    rv.sender_id = random_id();
    rv.recipient_id = bob;
    rv.timestamp = 1700000000;
    rv.signature = {12, 200, 7};
    std::string const frame = frame_of(rv, "rev");
    c->send_binary(frame);
    expect_ack(*c, "rev", ack_status::stored);
    auto r = connect_as(relay.port(), bob);
    auto const e = r->receive_envelope();
    auto const& u = expect_payload<encrypted_update>(e);
    BOOST_TEST(std::string(u.ciphertext.begin(), u.ciphertext.end()) == frame);
}

BOOST_AUTO_TEST_CASE(purge_deletes_the_mailbox_and_echoes_the_request_id)
{
    relay_process relay;
    std::string const bob = random_id();
    auto s = connect_as(relay.port(), random_id());
    for (int i = 0; i < 3; ++i) {
        s->send_binary(update_frame(bob, {1}, "p" + std::to_string(i)));
        expect_ack(*s, "p" + std::to_string(i), ack_status::stored);
    }
    auto b = connect_as(relay.port(), bob, suppressed());
    for (int i = 0; i < 3; ++i)
        b->receive_envelope();
    b->send_binary(frame_of(relay::protocol::purge_request{}, "purge-1"));
    auto const e = b->receive_envelope();
    BOOST_TEST(e->message_id == "purge-1");
    BOOST_TEST(expect_payload<relay::protocol::purge_response>(e).blobs_deleted == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
