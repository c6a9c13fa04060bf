// Per-process caches that must not survive a fork (worker processes are forks
// of the supervisor): common/random's pool, and the pid robust_mutex records.

#include "common/random.hpp"
#include "shm/robust_mutex.hpp"

#include <sys/mman.h>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <array>

BOOST_AUTO_TEST_SUITE(common_random)

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

BOOST_AUTO_TEST_CASE(a_forked_child_records_its_own_pid_as_lock_holder)
{
    struct shared_state {
        relay::shm::robust_mutex mutex;
        pid_t seen_holder;
    };
    void* mem = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    BOOST_TEST_REQUIRE(mem != MAP_FAILED);
    auto* state = new (mem) shared_state{};
    state->mutex.init();
    (void)state->mutex.lock();
    BOOST_TEST(state->mutex.holder() == ::getpid());
    state->mutex.unlock();
    pid_t const pid = ::fork();
    if (pid == 0) {
        (void)state->mutex.lock();
        state->seen_holder = state->mutex.holder();
        state->mutex.unlock();
        ::_exit(0);
    }
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(state->seen_holder == pid);
    ::munmap(mem, sizeof(shared_state));
}

BOOST_AUTO_TEST_SUITE_END()
