// How records are cut into chunks (shm/chunk_plan.hpp): every byte has a
// place, no part overflows its chunk, and the waste stays bounded.

#include "shm/chunk_plan.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace relay::shm;

namespace {

/// Checks the plan's invariants for one record and returns its chunk bytes.
std::uint64_t checked_plan(std::uint64_t head_fixed, std::uint64_t data)
{
    chunk_plan const plan = plan_chunks(head_fixed, data);
    BOOST_TEST_REQUIRE(!plan.empty());
    std::uint64_t held = 0;
    for (std::size_t i = 0; i < plan.size(); ++i) {
        std::uint64_t const fixed = i == 0 ? head_fixed : sizeof(chunk_header);
        std::uint64_t const size = chunk_size_of_class(plan[i].size_class);
        BOOST_TEST(plan[i].size_class < class_count);
        BOOST_TEST(fixed + plan[i].data_bytes <= size); // fits
        if (i + 1 < plan.size())
            BOOST_TEST(fixed + plan[i].data_bytes == size); // every part but the last is full
        held += plan[i].data_bytes;
    }
    BOOST_TEST(held == data);
    BOOST_TEST(plan.front().data_bytes >= std::min<std::uint64_t>(data, head_data_min)); // readers' prefix
    return chunk_bytes_of(plan);
}

} // namespace

BOOST_AUTO_TEST_SUITE(chunk_plan_suite)

BOOST_AUTO_TEST_CASE(a_four_kib_ciphertext_takes_under_five_kib_not_an_eight_kib_chunk)
{
    std::uint64_t const head_fixed = head_overhead + 36; // a UUID sender message id
    BOOST_TEST(checked_plan(head_fixed, 4096) == 4096u + 256u + 256u);
    // Small records still take one chunk.
    BOOST_TEST(plan_chunks(head_fixed, 10).size() == 1u);
    BOOST_TEST(plan_chunks(head_fixed, 0).size() == 1u);
}

BOOST_AUTO_TEST_CASE(every_size_up_to_two_mib_wastes_at_most_an_eighth_plus_headers)
{
    std::mt19937_64 rng(11);
    for (std::uint64_t head_fixed :
         {std::uint64_t{head_overhead}, std::uint64_t{head_overhead + 36}, std::uint64_t{head_overhead + 255}}) {
        for (int i = 0; i < 20000; ++i) {
            std::uint64_t const data = i < 5000 ? static_cast<std::uint64_t>(i) : rng() % (2u << 20);
            std::uint64_t const used = checked_plan(head_fixed, data);
            std::uint64_t const parts = plan_chunks(head_fixed, data).size();
            std::uint64_t const need = head_fixed + data + (parts - 1) * sizeof(chunk_header);
            // The last part wastes at most 1/8 of itself, or could not be
            // split because a smaller chunk would not hold the head's minimum.
            BOOST_TEST(used <= need + need / 8 + head_fixed + head_data_min, "data " << data);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
