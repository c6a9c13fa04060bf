#include "shm/rate_limiter.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

BOOST_AUTO_TEST_SUITE(rate_limiter_suite)

BOOST_AUTO_TEST_CASE(new_bucket_starts_full_and_refuses_once_empty)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t const now = (s.st.header().epoch_unix + 100) * 1000;
    for (int i = 0; i < 60; ++i)
        BOOST_TEST(rl.try_take(0, key('a'), 60, now));
    BOOST_TEST(!rl.try_take(0, key('a'), 60, now));
    BOOST_TEST(rl.try_take(0, key('b'), 60, now)); // another routing id has its own bucket
    BOOST_TEST(rl.try_take(1, key('a'), 60, now)); // another family too
}

BOOST_AUTO_TEST_CASE(bucket_refills_at_capacity_per_minute)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t now = (s.st.header().epoch_unix + 100) * 1000;
    for (int i = 0; i < 60; ++i)
        rl.try_take(0, key('a'), 60, now);
    BOOST_TEST(!rl.try_take(0, key('a'), 60, now + 500));
    BOOST_TEST(rl.try_take(0, key('a'), 60, now + 1100)); // one token per second
    BOOST_TEST(!rl.try_take(0, key('a'), 60, now + 1200));
    // Slow rates still refill when polled often (no lost fractions).
    for (std::uint64_t t = 0; t < 61000; t += 20)
        rl.try_take(0, key('c'), 1, now + t);
    BOOST_TEST(!rl.try_take(0, key('c'), 1, now + 61000));
    bool refilled = false;
    for (std::uint64_t t = 61000; t < 125000 && !refilled; t += 20)
        refilled = rl.try_take(0, key('c'), 1, now + t);
    BOOST_TEST(refilled);
}

BOOST_AUTO_TEST_CASE(limit_zero_blocks_everything)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    BOOST_TEST(!rl.try_take(0, key('a'), 0, s.st.header().epoch_unix * 1000));
}

BOOST_AUTO_TEST_CASE(bucket_is_shared_between_processes)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t const now = (s.st.header().epoch_unix + 5) * 1000;
    pid_t pid = ::fork();
    if (pid == 0) {
        int taken = 0;
        for (int i = 0; i < 40; ++i)
            taken += rl.try_take(0, key('p'), 60, now);
        std::_Exit(taken == 40 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST(WEXITSTATUS(status) == 0);
    int taken = 0;
    for (int i = 0; i < 40; ++i)
        taken += rl.try_take(0, key('p'), 60, now);
    BOOST_TEST(taken == 20);
}

BOOST_AUTO_TEST_CASE(idle_buckets_are_swept_and_restart_full)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t const now = (s.st.header().epoch_unix + 5) * 1000;
    for (int i = 0; i < 60; ++i)
        rl.try_take(0, key('q'), 60, now);
    BOOST_TEST(rl.sweep_idle(now + 10 * 60 * 1000, 30 * 60 * 1000) == 0u);
    BOOST_TEST(rl.sweep_idle(now + 31 * 60 * 1000, 30 * 60 * 1000) == 1u);
}

BOOST_AUTO_TEST_CASE(four_processes_charging_the_same_ids_take_exactly_the_limit_of_each)
{
    // Claim and charge race in four processes at once, with no time passing:
    // each of 200 ids must yield exactly its 50 tokens, not one more.
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t const now = 123456789;
    constexpr int ids = 200, processes = 4, attempts = 40;
    auto id = [](int i) {
        std::string k(64, '0');
        std::snprintf(k.data(), k.size() + 1, "%064x", i + 1);
        return k;
    };
    int pipes[processes][2];
    for (int p = 0; p < processes; ++p) {
        BOOST_TEST_REQUIRE(::pipe(pipes[p]) == 0);
        if (::fork() == 0) {
            std::vector<std::uint8_t> taken(ids);
            for (int a = 0; a < attempts; ++a)
                for (int i = 0; i < ids; ++i)
                    taken[(i + p * 50) % ids] += rl.try_take(0, id((i + p * 50) % ids), 50, now);
            [[maybe_unused]] auto n = ::write(pipes[p][1], taken.data(), taken.size());
            std::_Exit(0);
        }
    }
    std::vector<int> total(ids);
    for (int p = 0; p < processes; ++p) {
        std::vector<std::uint8_t> taken(ids);
        BOOST_TEST_REQUIRE(::read(pipes[p][0], taken.data(), taken.size()) == ids);
        for (int i = 0; i < ids; ++i)
            total[i] += taken[i];
        ::wait(nullptr);
    }
    for (int i = 0; i < ids; ++i)
        BOOST_TEST(total[i] == 50, "id " << i << " took " << total[i]);
}

BOOST_AUTO_TEST_CASE(a_process_killed_holding_a_group_lock_leaves_its_buckets_usable)
{
    scratch_store s;
    rate_limiter rl(s.seg.base(), s.st.header());
    std::uint64_t const now = 5000;
    for (int i = 0; i < 60; ++i)
        rl.try_take(0, key('k'), 60, now);
    BOOST_TEST(!rl.try_take(0, key('k'), 60, now));
    // A child takes every group's lock and dies holding them.
    auto* groups = reinterpret_cast<rate_group*>(s.seg.base() + s.st.header().rate_offset);
    std::uint32_t const count = s.st.header().rate_table_entries / rate_entries_per_group;
    pid_t const pid = ::fork();
    if (pid == 0) {
        for (std::uint32_t g = 0; g < count; ++g)
            groups[g].lock.lock();
        std::_Exit(0);
    }
    ::waitpid(pid, nullptr, 0);
    // The next taker repairs the group: the bucket restarts full.
    BOOST_TEST(rl.try_take(0, key('k'), 60, now));
    BOOST_TEST(rl.sweep_idle(now, 1000) == 0u); // every other group is repaired too, without blocking
}

BOOST_AUTO_TEST_SUITE_END()
