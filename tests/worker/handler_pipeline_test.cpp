// The handler's message pipeline (size, rate, decode, dispatch) and its teardown.

#include "worker/handler.hpp"

#include "handler_fixture.hpp"

using namespace handler_testing;

BOOST_AUTO_TEST_SUITE(handler)

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
