#pragma once
// Per-worker shared services: the store views, the rate limiter, the local
// registry of live connections by routing id, and cross-worker notification
// (docs/architecture.md#design-3). One instance per worker process, used from its single thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.hpp"
#include "shm/address_counts.hpp"
#include "shm/nonce_window.hpp"
#include "shm/notify_ring.hpp"
#include "shm/rate_limiter.hpp"
#include "shm/store.hpp"
#include "worker/commit_gate.hpp"
#include "noise/dh.hpp"

namespace relay::worker {

class connection_handler;

class worker_services {
public:
    worker_services(config const& cfg, std::uint8_t* store_base, std::uint32_t slot, std::vector<int> event_fds,
                    std::uint64_t relay_start_unix, std::optional<noise::dh_key> noise_key = std::nullopt);

    config const& cfg() const noexcept { return cfg_; }
    shm::store& store() noexcept { return store_; }
    shm::notify_rings& rings() noexcept { return rings_; }
    shm::rate_limiter& limiter() noexcept { return limiter_; }
    shm::nonce_window& nonces() noexcept { return nonces_; }
    shm::address_counts& addresses() noexcept { return addresses_; }
    worker::commit_gate& commit_gate() noexcept { return commit_gate_; }
    std::uint32_t slot() const noexcept { return slot_; }
    /// The relay's static Noise key; absent only in tests that do not need it.
    std::optional<noise::dh_key> const& noise_key() const noexcept { return noise_key_; }
    std::uint64_t relay_start_unix() const noexcept { return relay_start_unix_; }
    shm::worker_slot& slot_state() noexcept { return store_.slot(slot_); }
    void count(shm::counter c, std::uint64_t n = 1) noexcept;
    /// One message handled (relay_message_duration_seconds).
    void record_duration(std::chrono::nanoseconds spent) noexcept;

    /// Set on SIGTERM: new sessions go away at once instead of starting.
    void start_draining() noexcept { draining_ = true; }
    bool draining() const noexcept { return draining_; }

    /// The wall clock, for timestamps a client compares (common/clock.hpp).
    static std::uint64_t now_unix();

    // ---- local registry ----
    void register_handler(std::string_view routing_id, connection_handler* h);
    void unregister_handler(std::string_view routing_id, connection_handler* h);
    /// Live handlers of a routing id on this worker.
    std::vector<connection_handler*> const* local_handlers(std::string_view routing_id) const;

    // ---- notifications ----
    /// When this worker's own connections get a notification: at once, or
    /// from dispatch_deferred() (the caller holds a shard lock, which the
    /// connections' reactions could need).
    enum class local { now, later };
    /// Sends `entry` to every connection of entry.routing_id on the workers in
    /// `slots` (a bit mask); local ones directly, others through their ring.
    void notify(std::uint64_t slots, shm::notify_entry const& entry, local when = local::now);
    /// Looks up where `routing_id` is live, then notify().
    void notify_routing_id(shm::notify_entry const& entry, local when = local::now);
    /// Delivers what notify(..., local::later) held back.
    void dispatch_deferred();
    /// Delivers one entry to the local handlers it names.
    void dispatch_local(shm::notify_entry const& entry);
    /// Pushes to this worker were lost (its ring was full or reset): every
    /// local connection lists its mailbox for the blobs it has not queued.
    void catch_up_all();
    /// Eventfd of this worker (readable when its ring has entries).
    int own_event_fd() const { return event_fds_[slot_]; }

private:
    config const& cfg_;
    shm::store store_;
    shm::notify_rings rings_;
    shm::rate_limiter limiter_;
    shm::nonce_window nonces_;
    shm::address_counts addresses_;
    worker::commit_gate commit_gate_;
    std::uint32_t slot_;
    std::vector<int> event_fds_;
    std::uint64_t relay_start_unix_;
    std::optional<noise::dh_key> noise_key_;
    /// Transparent hashing, so lookups by string_view (every notification) do
    /// not build a std::string.
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
    };
    std::unordered_map<std::string, std::vector<connection_handler*>, key_hash, std::equal_to<>> local_;
    bool draining_ = false;
    std::vector<shm::notify_entry> deferred_;
};

} // namespace relay::worker
