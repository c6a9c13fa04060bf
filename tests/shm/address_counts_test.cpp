// Per-source-address connection counts shared by all workers (D-11).

#include "shm/address_counts.hpp"

#include <boost/test/unit_test.hpp>

#include <array>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

namespace {

using admission = address_counts::admission;

std::uint64_t key_for(address_counts const& c, std::uint8_t last)
{
    std::array<std::uint8_t, 4> ip{203, 0, 113, last};
    return c.key_of(ip);
}

} // namespace

BOOST_AUTO_TEST_SUITE(addresses)

BOOST_AUTO_TEST_CASE(the_cap_counts_connections_of_every_worker)
{
    scratch_store s;
    address_counts w0(s.seg.base(), s.st.header(), 0), w1(s.seg.base(), s.st.header(), 1);
    auto const k = key_for(w0, 7);
    BOOST_TEST(k == key_for(w1, 7)); // same key in every worker
    BOOST_TEST((w0.try_acquire(k, 3) == admission::counted));
    BOOST_TEST((w1.try_acquire(k, 3) == admission::counted));
    BOOST_TEST((w1.try_acquire(k, 3) == admission::counted));
    BOOST_TEST((w0.try_acquire(k, 3) == admission::refused)); // landing on another worker gains nothing
    BOOST_TEST(w0.total(k) == 3u);
    BOOST_TEST((w0.try_acquire(key_for(w0, 8), 3) == admission::counted)); // other addresses unaffected
    w1.release(k);
    BOOST_TEST((w0.try_acquire(k, 3) == admission::counted));
    BOOST_TEST((w0.try_acquire(k, 0) == admission::uncounted)); // 0 = unlimited
}

BOOST_AUTO_TEST_CASE(releases_keep_every_other_address_findable)
{
    scratch_store s;
    address_counts w(s.seg.base(), s.st.header(), 2);
    std::vector<std::uint64_t> keys;
    for (int i = 0; i < 3000; ++i) {
        std::array<std::uint8_t, 16> ip{};
        ip[0] = 0x20;
        ip[14] = static_cast<std::uint8_t>(i >> 8);
        ip[15] = static_cast<std::uint8_t>(i);
        keys.push_back(w.key_of(ip));
        BOOST_TEST_REQUIRE((w.try_acquire(keys.back(), 2) == admission::counted));
    }
    for (std::size_t i = 0; i < keys.size(); i += 2)
        w.release(keys[i]); // backward shifts all over the table
    for (std::size_t i = 0; i < keys.size(); ++i)
        BOOST_TEST_REQUIRE(w.total(keys[i]) == (i % 2 ? 1u : 0u));
}

BOOST_AUTO_TEST_CASE(a_dead_workers_counts_are_forgotten_with_its_slot)
{
    scratch_store s;
    address_counts w0(s.seg.base(), s.st.header(), 0), w3(s.seg.base(), s.st.header(), 3);
    auto const k = key_for(w0, 1);
    BOOST_TEST((w3.try_acquire(k, 1) == admission::counted));
    BOOST_TEST((w0.try_acquire(k, 1) == admission::refused));
    s.st.reset_slot(3);
    BOOST_TEST((w0.try_acquire(k, 1) == admission::counted));
}

BOOST_AUTO_TEST_SUITE_END()
