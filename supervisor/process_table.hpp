#pragma once
// The supervisor's single source of truth about its children.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace relay::supervisor {

enum class role { worker, cleanup };

/// Where a child stands with respect to a SIGHUP reload.
enum class reload_state {
    serving,  ///< runs, and is respawned if it dies
    rolling,  ///< asked to stop by a reload: respawned at once with the new configuration
    retiring, ///< asked to stop because --workers shrank: never respawned
    retired,  ///< gone for good; removed from the table
};

using clock_duration = std::chrono::steady_clock::duration;

struct child {
    role kind = role::worker;
    std::uint32_t slot = 0; ///< worker slot; unused for cleanup
    pid_t pid = 0;          ///< 0 while not running
    int pidfd = -1;         ///< names exactly this process (pids are reused); signals go through it
    std::chrono::steady_clock::time_point started{};
    std::chrono::steady_clock::time_point respawn_at{}; ///< when a dead child may start again
    std::chrono::milliseconds backoff{0};               ///< grows while the child dies young
    reload_state state = reload_state::serving;
    /// The process cleaning up after this child's death (child_repair.cpp);
    /// the child is respawned only once it has finished.
    pid_t repair_pid = 0;
    /// The last death, kept until its repair has finished.
    struct death_record {
        int status = 0; ///< from waitpid
        pid_t pid = 0;
        clock_duration lived{};
        bool served = false;        ///< a worker that heartbeated, or a cleanup that lived a second
        bool repair_failed = false; ///< the repair could not prove the store consistent
    } death;
    bool stall_killed = false; ///< killed for not heartbeating; cleared at spawn
};

inline child new_child(role kind, std::uint32_t slot = 0)
{
    child c;
    c.kind = kind;
    c.slot = slot;
    return c;
}

/// "worker 3" or "cleanup", for log lines.
inline std::string child_name(child const& c)
{
    return c.kind == role::cleanup ? std::string("cleanup") : "worker " + std::to_string(c.slot);
}

using clock = std::chrono::steady_clock;

/// The cleanup process counts as having started properly after this long
/// (workers instead report readiness through their heartbeat).
inline constexpr auto healthy_after = std::chrono::seconds(1);
/// Backoff for crashes on start: 100 ms doubling to 30 s (docs/architecture.md#design-1).
inline constexpr auto first_backoff = std::chrono::milliseconds(100);
inline constexpr auto max_backoff = std::chrono::milliseconds(30000);
/// This many crashes on start within the window make the supervisor give up.
inline constexpr int crash_loop_limit = 10;
inline constexpr auto crash_loop_window = std::chrono::seconds(60);

} // namespace relay::supervisor
