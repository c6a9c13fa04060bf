#pragma once
// A process-shared mutex that survives the death of its owner.
//
// Boost.Interprocess 1.81 marks a robust mutex "not recoverable" when its owner
// dies and throws on every later lock, which would wedge the relay forever after
// one SIGKILL (docs/architecture.md#design-2). This wrapper instead reports the owner's death to
// the next locker, which repairs the protected data and only then declares the
// mutex consistent again (the approach of LMDB's mdb_mutex_failed).

#include <pthread.h>
#include <sys/types.h>

#include <atomic>

namespace relay::shm {

enum class lock_outcome {
    acquired,   ///< normal acquisition: the protected data is consistent
    owner_died, ///< acquired, but the previous owner died inside the critical section:
                ///< repair, then call mark_consistent() before unlocking
};

class robust_mutex final {
public:
    /// (Re)initialises the mutex. Only valid while no other process can touch it:
    /// the supervisor calls it at store creation and when reopening a store after
    /// a restart (a mutex left locked by a process of a previous boot would
    /// otherwise never report its owner's death).
    void init();

    lock_outcome lock();
    /// Declares the protected data repaired; required after owner_died.
    void mark_consistent();
    void unlock();

    /// pid of the current holder, 0 if none (diagnostics only: pids are reused).
    pid_t holder() const noexcept { return holder_.load(std::memory_order_relaxed); }

private:
    pthread_mutex_t mutex_;
    std::atomic<pid_t> holder_{0};
};

} // namespace relay::shm
