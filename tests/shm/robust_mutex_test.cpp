// robust_mutex records its holder's pid, a per-process value that must not
// survive a fork: every worker is a fork of the supervisor, and the stall
// check reads the holder to find who blocks the others.

#include "shm/robust_mutex.hpp"

#include <sys/mman.h>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <array>

BOOST_AUTO_TEST_SUITE(robust_mutex_holder)

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
