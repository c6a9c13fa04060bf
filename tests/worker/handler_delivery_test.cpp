// What the handler hands over: deliveries, acknowledgments and live push.

#include "worker/handler.hpp"

#include "handler_fixture.hpp"

using namespace handler_testing;

BOOST_AUTO_TEST_SUITE(handler)

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

BOOST_AUTO_TEST_SUITE_END()
