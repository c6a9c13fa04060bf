#pragma once
// The supervisor (docs/architecture.md#design-1): opens the store and the listening sockets, forks
// the workers and the cleanup process, and then only supervises: signals are
// read from a signalfd and acted on by the loop (nginx's master cycle).

#include <deque>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "shm/segment.hpp"
#include "noise/types.hpp"
#include "supervisor/process_table.hpp"

namespace relay::supervisor {

class supervisor final {
public:
    /// `args` are the command line (for re-reading the configuration on SIGHUP).
    supervisor(config cfg, std::vector<std::string> args);
    ~supervisor();
    supervisor(supervisor const&) = delete;
    supervisor& operator=(supervisor const&) = delete;

    /// Runs until stopped; returns the process exit code.
    int run();

private:
    void spawn(child& c);
    /// Signals `c` through its pidfd, so a recycled pid is never hit.
    static void signal_child(child const& c, int sig);
    [[noreturn]] void become_child(child const& c);
    /// In a freshly forked child: die with the supervisor, and close what
    /// only the supervisor uses (its signalfd, the other children's pidfds).
    void leave_supervisor_after_fork() const;
    void reap();
    void on_child_exit(child& c, int status);
    /// Forks the process that cleans the store up after `c` died.
    void start_repair(child& c);
    void on_repair_exit(child& c, int status);
    /// What follows a death once its repair is done: respawn, backoff,
    /// escalation or giving up.
    void after_repair(child& c);
    /// SIGKILLs a worker that has not heartbeated for RELAY_HEARTBEAT_TIMEOUT
    /// (liveness.cpp).
    void kill_stalled_workers();
    void respawn_due();
    void check_ready();
    /// WATCHDOG=1 at half the interval, but only while every worker heartbeats.
    void feed_watchdog();
    bool all_workers_heartbeat() const;
    /// Makes every worker drain its ring (and notice entries lost in it).
    void wake_all_workers();
    void report_status();
    /// drain: SIGTERM to every child, SIGKILL after the deadline; now: SIGKILL.
    enum class stop_mode { drain, now };
    void begin_stop(stop_mode mode);
    /// A child could not prove a shard consistent: stop every child, rebuild
    /// and verify the whole store, start again (docs/architecture.md#design-2-6).
    void escalate();
    /// SIGHUP: re-read the configuration, resize the worker set, and restart the
    /// children one at a time while every slot's socket keeps queueing.
    void reload();
    /// Copies into `next` every setting a reload cannot change, warning about
    /// each that the new configuration changed.
    void keep_what_a_reload_cannot_change(config& next) const;
    void advance_roll();
    bool all_stopped() const;
    void raise_open_file_limit() const;
    int finish();

    config cfg_;
    std::vector<std::string> args_;
    /// Children still to restart in this reload, by (role, slot): entries of
    /// children_ move when retired workers are erased, so no pointers.
    std::deque<std::pair<role, std::uint32_t>> roll_queue_;
    std::optional<std::pair<role, std::uint32_t>> rolling_; ///< being restarted now
    child* find_child(role kind, std::uint32_t slot);
    bool reloading_ = false;
    shm::segment segment_;
    std::vector<int> listen_fds_;
    int metrics_fd_ = -1;
    std::string noise_public_key_b64_;
    noise::key_pair noise_keys_{};
    std::vector<int> event_fds_;
    std::vector<child> children_;
    std::deque<clock::time_point> early_deaths_;
    int signal_fd_ = -1;
    int data_dir_lock_ = -1; ///< flock on DATA_DIR/relay.lock, inherited by the children
    sigset_t old_mask_{};
    pid_t self_ = 0;
    std::uint64_t start_unix_ = 0;
    bool ready_ = false;
    std::uint64_t watchdog_usec_ = 0;
    clock::time_point next_watchdog_{};
    std::string last_status_;
    bool stopping_ = false;
    clock::time_point kill_at_{};
    /// The last stall kill: the workers it unblocks get a full timeout again.
    clock::time_point last_stall_kill_{};
    int exit_code_ = 0;
};

} // namespace relay::supervisor
