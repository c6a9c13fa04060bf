// What the handler stores: EncryptedUpdate, AccountRevoked, and what PurgeRequest deletes.

#include "worker/handler.hpp"

#include "handler_fixture.hpp"

using namespace handler_testing;

BOOST_AUTO_TEST_SUITE(handler)

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

BOOST_AUTO_TEST_SUITE_END()
