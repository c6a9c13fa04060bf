#include "shm/notify_ring.hpp"

#include <boost/test/unit_test.hpp>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

BOOST_AUTO_TEST_SUITE(notify_ring_suite)

BOOST_AUTO_TEST_CASE(posted_entries_are_drained_in_order_by_their_slot_only)
{
    scratch_store s;
    notify_rings rings(s.seg.base(), s.st.header());
    rings.reinit_locks();
    BOOST_TEST(rings.post(2, notify_rings::make(notify_kind::delivered, key('a'), "one")));
    BOOST_TEST(rings.post(2, notify_rings::make(notify_kind::received_by_recipient, key('a'), "two")));
    BOOST_TEST(rings.drain(1).entries.empty());
    auto const got = rings.drain(2).entries;
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(std::string(got[0].message_id, got[0].message_id_len) == "one");
    BOOST_TEST(got[1].kind == static_cast<std::uint8_t>(notify_kind::received_by_recipient));
    BOOST_TEST(rings.drain(2).entries.empty());
}

BOOST_AUTO_TEST_CASE(full_ring_drops_instead_of_blocking)
{
    scratch_store s;
    notify_rings rings(s.seg.base(), s.st.header());
    rings.reinit_locks();
    for (std::uint32_t i = 0; i < notify_ring_capacity; ++i)
        BOOST_TEST(rings.post(0, notify_rings::make(notify_kind::delivered, key('a'), "x")));
    BOOST_TEST(!rings.post(0, notify_rings::make(notify_kind::delivered, key('a'), "x")));
    BOOST_TEST(rings.dropped(0) == 1u);
    // The consumer learns of the loss once, with what the ring held.
    auto const first = rings.drain(0);
    BOOST_TEST(first.entries.size() == notify_ring_capacity);
    BOOST_TEST(first.lost);
    BOOST_TEST(rings.post(0, notify_rings::make(notify_kind::delivered, key('a'), "y")));
    auto const second = rings.drain(0);
    BOOST_TEST(second.entries.size() == 1u);
    BOOST_TEST(!second.lost);
}

BOOST_AUTO_TEST_CASE(a_reset_ring_tells_its_consumer_that_entries_were_lost)
{
    scratch_store s;
    notify_rings producer(s.seg.base(), s.st.header());
    notify_rings consumer(s.seg.base(), s.st.header());
    producer.reinit_locks();
    BOOST_TEST(!consumer.drain(3).lost);
    BOOST_TEST(producer.post(3, notify_rings::make(notify_kind::delivered, key('a'), "x")));
    producer.reset(3);
    auto const got = consumer.drain(3);
    BOOST_TEST(got.entries.empty());
    BOOST_TEST(got.lost);
    BOOST_TEST(!consumer.drain(3).lost);
}

BOOST_AUTO_TEST_SUITE_END()
