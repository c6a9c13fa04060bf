#pragma once
// The generator's threads, its phases and its measurement windows.
//
// Each thread runs its own io_context, so a connection's coroutines never
// need a strand; scenarios place connection i on thread i % threads. The
// controlling (main) thread never touches a socket: it moves the phase
// forward, waits with a deadline while printing progress once a second, and
// takes the CPU snapshots that open and close a window.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_net.hpp"
#include "bench/loadgen/options.hpp"
#include "bench/loadgen/proc_stats.hpp"

namespace bench::loadgen {

enum class phase : int { setup, warmup, measure, drain, done };

/// Counters of one generator thread. Only that thread writes them (relaxed
/// atomics, so the controller may read them at any time); the latency vectors
/// are read only once the threads are stopped.
struct alignas(64) thread_stats {
    std::atomic<std::uint64_t> ops{0};     ///< completed operations of the scenario
    std::atomic<std::uint64_t> sent{0};    ///< requests written
    std::atomic<std::uint64_t> failed{0};  ///< Failed acks
    std::atomic<std::uint64_t> errors{0};  ///< connections that failed or broke
    std::atomic<std::uint64_t> dropped{0}; ///< offered load the generator could not send
    std::atomic<std::uint64_t> delivered_acks{0};
    std::atomic<std::uint64_t> receipts{0};     ///< ReceivedByRecipient acks received
    std::atomic<std::uint64_t> stored_bytes{0}; ///< ciphertext bytes acknowledged Stored
    std::vector<std::uint64_t> latency_ns;      ///< the scenario's main latency, window only
    std::vector<std::uint64_t> latency2_ns;     ///< a secondary one (push: Stored ack)
};

/// What one measurement window saw.
struct window {
    double wall_s = 0;
    std::uint64_t ops = 0;
    double server_cpu_s = 0;
    double generator_cpu_s = 0;
    unsigned server_processes = 0;

    window& operator+=(window const& w);
};

class runner {
public:
    /// Bound on stored latency samples per thread (8 bytes each): a run that
    /// would exceed it keeps the first ones, enough for stable percentiles.
    static constexpr std::size_t max_samples_per_thread = 20'000'000;

    explicit runner(options const& o);
    ~runner();
    runner(runner const&) = delete;
    runner& operator=(runner const&) = delete;

    options const& opts() const { return opts_; }
    unsigned size() const { return static_cast<unsigned>(contexts_.size()); }
    net::io_context& context(unsigned t) { return *contexts_[t]; }
    thread_stats& stats(unsigned t) { return *stats_[t]; }
    tcp::endpoint const& endpoint() const { return endpoint_; }
    std::uint64_t salt() const { return salt_; }

    phase current() const { return phase_.load(std::memory_order_relaxed); }
    void set(phase p) { phase_.store(p, std::memory_order_relaxed); }
    bool recording() const { return current() == phase::measure; }
    /// Records a latency sample on thread `t` if the window is open.
    void sample(unsigned t, std::uint64_t ns, bool secondary = false);

    std::uint64_t total(std::atomic<std::uint64_t> thread_stats::*counter) const;

    /// Runs `fn(t)` on every thread and waits for all of them (bounded).
    void run_on_all(std::function<void(unsigned)> const& fn);
    /// Stops the threads and joins them; idempotent.
    void stop();

    /// Waits until `done()` or `seconds` pass, printing progress every second
    /// under the label `what`. False on timeout.
    bool wait(std::string_view what, double seconds, std::function<bool()> const& done = {});

    void begin_window();
    window end_window();

    std::vector<std::uint64_t> merged_latency(bool secondary = false) const;

private:
    void progress(std::string_view what, double elapsed, double limit);

    options opts_;
    tcp::endpoint endpoint_;
    std::uint64_t salt_;
    std::atomic<phase> phase_{phase::setup};
    std::vector<std::unique_ptr<net::io_context>> contexts_;
    std::vector<std::unique_ptr<thread_stats>> stats_;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
    std::vector<std::thread> threads_;

    // Window and progress state (controller thread only).
    double window_start_ = 0;
    std::uint64_t window_ops_ = 0;
    cpu_sample window_server_{};
    double window_self_ = 0;
    double last_print_ = 0;
    std::uint64_t last_ops_ = 0;
    double last_server_ = 0;
    double last_self_ = 0;
};

/// Seconds of the steady clock.
double now_s();

} // namespace bench::loadgen
