#include "shm/robust_mutex.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/log.hpp"

namespace relay::shm {

void robust_mutex::init()
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    std::memset(&mutex_, 0, sizeof(mutex_));
    int rc = pthread_mutex_init(&mutex_, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
        RELAY_LOG_ERROR("pthread_mutex_init failed: %s", std::strerror(rc));
        std::abort();
    }
    holder_.store(0, std::memory_order_relaxed);
}

namespace {

/// This process's pid, for holder_ on every lock without a getpid() syscall
/// per lock (one per stored message; found by the benchmark). Refreshed in
/// every forked child, the way workers and the cleanup process are created.
pid_t cached_pid = ::getpid();

void refresh_pid_after_fork() { cached_pid = ::getpid(); }

[[maybe_unused]] int const registered = ::pthread_atfork(nullptr, nullptr, &refresh_pid_after_fork);

} // namespace

lock_outcome robust_mutex::lock()
{
    int rc = pthread_mutex_lock(&mutex_);
    lock_outcome outcome = lock_outcome::acquired;
    if (rc == EOWNERDEAD) {
        outcome = lock_outcome::owner_died;
    } else if (rc != 0) {
        // ENOTRECOVERABLE can only happen if someone unlocked without repairing;
        // our callers always repair first, so this is a programming error.
        RELAY_LOG_ERROR("shared lock unusable: %s", std::strerror(rc));
        std::abort();
    }
    holder_.store(cached_pid, std::memory_order_relaxed);
    return outcome;
}

void robust_mutex::mark_consistent() { pthread_mutex_consistent(&mutex_); }

void robust_mutex::unlock()
{
    holder_.store(0, std::memory_order_relaxed);
    pthread_mutex_unlock(&mutex_);
}

} // namespace relay::shm
