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
    BOOST_TEST(rings.drain(1).empty());
    auto const got = rings.drain(2);
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(std::string(got[0].message_id, got[0].message_id_len) == "one");
    BOOST_TEST(got[1].kind == static_cast<std::uint8_t>(notify_kind::received_by_recipient));
    BOOST_TEST(rings.drain(2).empty());
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
    BOOST_TEST(rings.drain(0).size() == notify_ring_capacity);
}

BOOST_AUTO_TEST_SUITE_END()
