// common/random's pool is a per-process cache that must not survive a fork:
// every worker is a fork of the supervisor, and two workers must never hand
// out the same blob id or session label.

#include "common/random.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <array>

BOOST_AUTO_TEST_SUITE(random_ids)

BOOST_AUTO_TEST_CASE(a_forked_child_draws_fresh_bytes_not_the_parents_pool)
{
    std::array<std::uint8_t, 16> primer{};
    relay::random::fill(primer); // the pool now holds unused bytes
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    pid_t const pid = ::fork();
    if (pid == 0) {
        std::array<std::uint8_t, 32> child{};
        relay::random::fill(child);
        (void)!::write(fds[1], child.data(), child.size());
        ::_exit(0);
    }
    std::array<std::uint8_t, 32> parent{}, child{};
    relay::random::fill(parent);
    BOOST_TEST(::read(fds[0], child.data(), child.size()) == 32);
    ::waitpid(pid, nullptr, 0);
    ::close(fds[0]);
    ::close(fds[1]);
    BOOST_TEST((parent != child));
}

BOOST_AUTO_TEST_SUITE_END()
