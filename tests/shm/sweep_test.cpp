#include "shm/sweep.hpp"

#include <boost/test/unit_test.hpp>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

BOOST_AUTO_TEST_SUITE(sweep)

BOOST_AUTO_TEST_CASE(sweep_deletes_blobs_at_or_beyond_the_ttl_only)
{
    scratch_store s;
    for (int i = 0; i < 10; ++i)
        s.st.put(request(key(static_cast<char>('a' + i % 3)), bytes_of(10, 1), 1000 + i));
    auto const stats = sweep_expired(s.st, 1104, 100); // cutoff 1004: blobs created 1000..1004
    BOOST_TEST(stats.expired == 5u);
    BOOST_TEST(s.st.totals().blobs == 5u);
    BOOST_TEST(verified(s.st));
}

BOOST_AUTO_TEST_CASE(ttl_zero_expires_everything)
{
    scratch_store s;
    for (int i = 0; i < 600; ++i)
        s.st.put(request(key(static_cast<char>('a' + i % 7)), bytes_of(10, 1), 1000));
    auto const stats = sweep_expired(s.st, 1000, 0, sweep_budget{64});
    BOOST_TEST(stats.expired == 600u);
    BOOST_TEST(s.st.totals().blobs == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
