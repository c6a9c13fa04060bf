// The shared nonce window (docs/protocol.md#s5 step 3, D-10, D-11).

#include "shm/nonce_window.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

namespace {

std::array<std::uint8_t, 32> nonce_of(std::uint32_t n)
{
    std::array<std::uint8_t, 32> out{};
    for (int i = 0; i < 4; ++i)
        out[i] = static_cast<std::uint8_t>(n >> (8 * i));
    out[31] = 0x42;
    return out;
}

using outcome = nonce_window::outcome;

} // namespace

BOOST_AUTO_TEST_SUITE(nonces)

BOOST_AUTO_TEST_CASE(a_nonce_is_refused_within_the_window_and_accepted_after_it)
{
    scratch_store s;
    nonce_window w(s.seg.base(), s.st.header());
    auto const n = nonce_of(1);
    BOOST_TEST((w.record(n, 5000, 5000) == outcome::fresh));
    BOOST_TEST((w.record(n, 5000, 5000) == outcome::replayed));
    BOOST_TEST((w.record(n, 5120, 5120) == outcome::replayed));
    BOOST_TEST((w.record(n, 5121, 5121) == outcome::fresh)); // 121 s later: forgotten, recorded again
    BOOST_TEST((w.record(n, 5200, 5200) == outcome::replayed));
    BOOST_TEST((w.record(nonce_of(2), 5200, 5200) == outcome::fresh));
}

BOOST_AUTO_TEST_CASE(many_live_nonces_are_all_remembered)
{
    scratch_store s;
    nonce_window w(s.seg.base(), s.st.header());
    std::uint32_t const n = 200'000; // ~1 700 handshakes per second for 120 s
    std::uint32_t full = 0;
    for (std::uint32_t i = 0; i < n; ++i)
        full += w.record(nonce_of(i), 1000, 1000) == outcome::full;
    BOOST_TEST(full == 0u);
    std::uint32_t caught = 0;
    for (std::uint32_t i = 0; i < n; ++i)
        caught += w.record(nonce_of(i), 1100, 1100) == outcome::replayed;
    BOOST_TEST(caught == n);
}

BOOST_AUTO_TEST_CASE(concurrent_processes_accept_each_nonce_at_most_once)
{
    scratch_store s;
    constexpr int processes = 4;
    constexpr std::uint32_t nonces = 20'000;
    int fds[processes][2];
    for (int p = 0; p < processes; ++p) {
        BOOST_TEST_REQUIRE(::pipe(fds[p]) == 0);
        pid_t const pid = ::fork();
        if (pid == 0) {
            // The child shares the parent's MAP_SHARED mapping, as workers do.
            nonce_window w(s.seg.base(), s.st.header());
            std::uint32_t fresh = 0;
            for (std::uint32_t i = 0; i < nonces; ++i)
                fresh += w.record(nonce_of(i), 3000, 3000) == outcome::fresh;
            (void)!::write(fds[p][1], &fresh, sizeof fresh);
            ::_exit(0);
        }
        ::close(fds[p][1]);
    }
    std::uint32_t total_fresh = 0;
    for (int p = 0; p < processes; ++p) {
        std::uint32_t fresh = 0;
        BOOST_TEST(::read(fds[p][0], &fresh, sizeof fresh) == static_cast<ssize_t>(sizeof fresh));
        ::close(fds[p][0]);
        total_fresh += fresh;
        ::wait(nullptr);
    }
    // Each nonce is accepted by at most one process; a simultaneous pair may
    // both refuse, which is safe and rare.
    BOOST_TEST(total_fresh <= nonces);
    BOOST_TEST(total_fresh >= nonces * 99 / 100);
}

BOOST_AUTO_TEST_CASE(a_step_back_of_the_clock_does_not_reopen_the_window)
{
    scratch_store s;
    nonce_window w(s.seg.base(), s.st.header());
    auto const n = nonce_of(7);
    std::uint64_t const signed_at = 1'000'000;
    BOOST_TEST((w.record(n, signed_at, signed_at) == outcome::fresh));
    // The clock steps back a day: the handshake is rejected by the ±60 s check
    // until the clock is near its signing time again, and then still replayed.
    for (std::uint64_t now : {signed_at - 86'400, signed_at - 3'600, signed_at - 60, signed_at + 60, signed_at + 120})
        BOOST_TEST((w.record(n, signed_at, now) == outcome::replayed), "at " << now);
    // Stepped forward a day: forgotten, and the ±60 s check refuses it anyway.
    BOOST_TEST((w.record(n, signed_at, signed_at + 86'400) == outcome::fresh));
}

BOOST_AUTO_TEST_SUITE_END()
