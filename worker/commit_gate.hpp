#pragma once
// RELAY_SYNC_COMMIT=on (docs/store.md, "Durability to disk"): a `Stored` ack
// is sent only once the store file is on stable storage with the record in
// it. Flushes run on a thread of their own (a flush blocks for
// milliseconds), one at a time, and each covers every record committed
// before it started (group commit): while one runs, the worker goes on
// storing, and the records it commits meanwhile share the next flush. Acks
// wait in their sessions' queues until durable() reaches the generation they
// were given.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace relay::worker {

class commit_gate {
public:
    /// Disabled: cover() returns 0 and nothing waits.
    commit_gate() = default;
    ~commit_gate();
    commit_gate(commit_gate const&) = delete;
    commit_gate& operator=(commit_gate const&) = delete;

    /// Enables the gate. `flush` puts every record written before the call
    /// on stable storage (0, or an errno value; it runs on the gate's
    /// thread). `post` runs a function on the worker's thread (its
    /// io_context); `on_durable` is then called there after every finished flush.
    void open(std::function<int()> flush, std::function<void(std::function<void()>)> post,
              std::function<void()> on_durable);
    bool enabled() const noexcept { return enabled_; }

    /// A record was just committed: the generation whose flush covers it (0
    /// when disabled). Starts that flush unless one is running.
    std::uint64_t cover();
    /// Every record covered by a generation up to this one is on disk.
    std::uint64_t durable() const noexcept { return durable_; }

    std::uint64_t flushes() const noexcept { return durable_; }
    std::uint64_t records_flushed() const noexcept { return records_flushed_; }

private:
    void start_flush();
    void flushed(std::uint64_t generation, std::uint64_t records);
    void run_flusher();

    bool enabled_ = false;
    std::function<int()> flush_;
    std::function<void(std::function<void()>)> post_;
    std::function<void()> on_durable_;
    // Worker thread only.
    std::uint64_t durable_ = 0;
    std::uint64_t in_flight_ = 0;       ///< generation being flushed, 0 if none
    std::uint64_t waiting_records_ = 0; ///< covered by the flush after the one in flight
    std::uint64_t records_flushed_ = 0;
    // Shared with the flusher thread.
    std::mutex mutex_;
    std::condition_variable wake_;
    std::uint64_t requested_ = 0; ///< generation the flusher should run next
    std::uint64_t requested_records_ = 0;
    bool stopping_ = false;
    std::thread flusher_;
};

} // namespace relay::worker
