// The session's send queues (worker/small_fifo.hpp): first in, first out
// across any interleaving of pushes and pops, including after it empties.

#include "worker/small_fifo.hpp"

#include <boost/test/unit_test.hpp>

#include <deque>
#include <random>
#include <string>

using relay::worker::small_fifo;

BOOST_AUTO_TEST_SUITE(small_fifo_suite)

BOOST_AUTO_TEST_CASE(behaves_like_a_deque_under_random_pushes_and_pops)
{
    small_fifo<std::string, 4> fifo;
    std::deque<std::string> model;
    std::mt19937 rng(3);
    for (int step = 0; step < 20000; ++step) {
        // Bursts up to 40 deep, so the vector grows past keep_capacity and is released.
        bool const push = model.empty() || (rng() % 100) < (step % 200 < 100 ? 70u : 30u);
        if (push) {
            std::string item = "frame " + std::to_string(step) + std::string(rng() % 40, 'x');
            fifo.push_back(item);
            model.push_back(item);
        } else {
            BOOST_TEST_REQUIRE(!fifo.empty());
            BOOST_TEST_REQUIRE(fifo.pop_front() == model.front());
            model.pop_front();
        }
        BOOST_TEST_REQUIRE(fifo.size() == model.size());
        BOOST_TEST_REQUIRE(fifo.empty() == model.empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()
