// The relay's clocks (common/clock.hpp): the calendar starts at the wall
// clock and then runs with the monotonic one.

#include "common/clock.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

BOOST_AUTO_TEST_SUITE(clocks)

BOOST_AUTO_TEST_CASE(the_relay_calendar_starts_at_the_wall_clock_and_runs_with_the_monotonic_one)
{
    using namespace std::chrono_literals;
    relay::clock::anchor_relay_time();
    std::uint64_t const wall = relay::clock::wall_unix();
    std::uint64_t const calendar = relay::clock::relay_unix();
    BOOST_TEST((calendar >= wall && calendar <= wall + 1));
    std::uint64_t const before = relay::clock::monotonic_ms();
    std::this_thread::sleep_for(1100ms);
    std::uint64_t const after = relay::clock::monotonic_ms();
    BOOST_TEST((after - before >= 1100 && after - before < 3000));
    BOOST_TEST(relay::clock::relay_unix() >= calendar + 1);
}

BOOST_AUTO_TEST_SUITE_END()
