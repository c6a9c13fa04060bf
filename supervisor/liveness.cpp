// Killing a worker that no longer heartbeats (docs/architecture.md#liveness).
//
// A worker beats once a second from its event loop. One that is stopped
// (SIGSTOP, a debugger, a stuck page fault) or wedged stops beating, and if
// it holds a store lock, every worker that needs the lock stops beating too.
// Killing the holder frees the lock (the next locker repairs it) and the
// others resume, so one process is killed per timeout: the one that holds a
// store lock, else a stopped one, else the one silent longest. The workers it
// unblocks get a full timeout again before they count as stalled. The cleanup
// process has no heartbeat, but when workers stall while it holds a store
// lock, it is the one killed: killing the workers behind it would free
// nothing.

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "shm/page_pool.hpp"
#include "shm/presence_table.hpp"
#include "shm/shard.hpp"
#include "shm/store.hpp"
#include "supervisor/supervisor.hpp"

namespace relay::supervisor {
namespace {

constexpr std::uint64_t first_beat_allowance_ms = 60000;

/// True if `pid` holds a lock of the store's structure (read without locking:
/// robust_mutex records its holder for exactly this).
bool holds_a_store_lock(std::uint8_t* base, pid_t pid)
{
    shm::store st(base);
    for (std::uint32_t i = 0; i < st.shard_count(); ++i)
        if (st.shard(i).header().lock.holder() == pid)
            return true;
    return shm::page_pool(base).header().lock.holder() == pid ||
        shm::presence_table(base).header().lock.holder() == pid;
}

/// True if the process is stopped or traced ('T' or 't' in /proc/PID/stat).
bool is_stopped(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return false;
    auto const after_name = line.rfind(')'); // the name may contain spaces and parentheses
    return after_name != std::string::npos && after_name + 2 < line.size() &&
        (line[after_name + 2] == 'T' || line[after_name + 2] == 't');
}

} // namespace

void supervisor::kill_stalled_workers()
{
    auto const timeout = std::chrono::seconds(cfg_.heartbeat_timeout_secs);
    auto const now = clock::now();
    if (now - last_stall_kill_ < timeout)
        return;
    shm::store st(segment_.base());
    std::uint64_t const now_ms = relay::clock::monotonic_ms();
    std::uint64_t const timeout_ms = cfg_.heartbeat_timeout_secs * 1000;
    child* worst = nullptr;
    std::tuple<bool, bool, std::uint64_t> worst_rank{};
    for (child& c : children_) {
        if (c.kind != role::worker || c.pid <= 0 || c.stall_killed)
            continue;
        std::uint64_t const beat = st.slot(c.slot).heartbeat_ms.load();
        // Before its first beat, a worker is timed from its start.
        std::uint64_t const silent_ms = beat != 0
            ? (now_ms > beat ? now_ms - beat : 0)
            : static_cast<std::uint64_t>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started).count());
        // A starting worker may map a large prefaulted store first
        // (worker.cpp): it gets at least a minute to its first beat.
        if (silent_ms <= (beat != 0 ? timeout_ms : std::max<std::uint64_t>(timeout_ms, first_beat_allowance_ms)))
            continue;
        std::tuple<bool, bool, std::uint64_t> const rank{holds_a_store_lock(segment_.base(), c.pid), is_stopped(c.pid),
                                                         silent_ms};
        if (worst == nullptr || rank > worst_rank) {
            worst = &c;
            worst_rank = rank;
        }
    }
    if (worst == nullptr)
        return;
    if (!std::get<0>(worst_rank)) {
        for (child& c : children_) {
            if (c.kind == role::cleanup && c.pid > 0 && holds_a_store_lock(segment_.base(), c.pid)) {
                RELAY_LOG_WARN("%s has not heartbeated for %llu ms while the cleanup process (pid %d) holds a "
                               "store lock%s: killing the cleanup process (RELAY_HEARTBEAT_TIMEOUT=%llu s)",
                               child_name(*worst).c_str(), static_cast<unsigned long long>(std::get<2>(worst_rank)),
                               c.pid, is_stopped(c.pid) ? " and is stopped" : "",
                               static_cast<unsigned long long>(cfg_.heartbeat_timeout_secs));
                st.slot(worst->slot)
                    .counters[static_cast<std::size_t>(shm::counter::stall_kills_total)]
                    .fetch_add(1, std::memory_order_relaxed);
                signal_child(c, SIGKILL);
                last_stall_kill_ = now;
                return;
            }
        }
    }
    auto const [holds_lock, stopped, silent_ms] = worst_rank;
    RELAY_LOG_WARN("%s (pid %d) has not heartbeated for %llu ms%s%s: killing it (RELAY_HEARTBEAT_TIMEOUT=%llu s)",
                   child_name(*worst).c_str(), worst->pid, static_cast<unsigned long long>(silent_ms),
                   stopped ? ", it is stopped" : "", holds_lock ? ", it holds a store lock" : "",
                   static_cast<unsigned long long>(cfg_.heartbeat_timeout_secs));
    st.slot(worst->slot)
        .counters[static_cast<std::size_t>(shm::counter::stall_kills_total)]
        .fetch_add(1, std::memory_order_relaxed);
    signal_child(*worst, SIGKILL); // also ends a stopped process
    worst->stall_killed = true;
    last_stall_kill_ = now;
}

} // namespace relay::supervisor
