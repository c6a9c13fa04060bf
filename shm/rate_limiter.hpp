#pragma once
// Per-routing-id token buckets shared by all workers (docs/protocol.md#s10-2,
// D-11), on CLOCK_MONOTONIC: a step of the wall clock neither empties nor
// fills a bucket.
//
// The table is split into groups of 13 buckets, each under one robust lock.
// A routing id's bucket lives in the group its hash picks, so claiming,
// charging, evicting and sweeping it are atomic with respect to each other.
// A process killed holding a group's lock leaves that group's buckets to
// restart full: the next locker cannot know which update was torn.

#include <cstdint>
#include <string_view>

#include "shm/layout.hpp"

namespace relay::shm {

class rate_limiter {
public:
    rate_limiter(std::uint8_t* base, store_header const& header) noexcept;

    /// Takes one token from the bucket of (`family`, `routing_id`) with capacity
    /// `per_minute`, refilled continuously at per_minute/60 tokens per second.
    /// A new bucket starts full. `now_ms` is CLOCK_MONOTONIC in milliseconds
    /// (clock::monotonic_ms()); only its differences matter.
    bool try_take(std::uint32_t family, std::string_view routing_id, std::uint64_t per_minute, std::uint64_t now_ms);

    /// Frees buckets idle for `idle_ms` (the cleanup process, every 10 min).
    std::uint64_t sweep_idle(std::uint64_t now_ms, std::uint64_t idle_ms);

    /// Empties every bucket and initialises every lock: at each relay start
    /// (CLOCK_MONOTONIC restarts with the host), while no other process runs.
    void reset();

    /// Largest capacity a bucket holds.
    static constexpr std::uint64_t max_per_minute = (std::uint64_t{1} << 32) / 256 - 1;

private:
    rate_group& group_of(std::uint64_t key) const noexcept;

    rate_group* groups_;
    std::uint32_t group_count_;
    std::uint64_t seed_;
};

} // namespace relay::shm
