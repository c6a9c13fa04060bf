#pragma once
// Per-routing-id token buckets shared by all workers (PROTOCOL §10.2, D-11).
// Lock-free: each bucket is one 64-bit word updated by compare-and-swap, so a
// process killed mid-update loses at most that one update (DESIGN §2.5).

#include <cstdint>
#include <string_view>

#include "shm/layout.hpp"

namespace relay::shm {

class rate_limiter {
public:
    /// `salt` separates independent bucket families (general vs recovery).
    rate_limiter(std::uint8_t* base, store_header const& header) noexcept;

    /// Takes one token from the bucket of (`family`, `routing_id`) with capacity
    /// `per_minute`, refilled continuously at per_minute/60 tokens per second. A
    /// new bucket starts full. `now_ms` is Unix time in milliseconds.
    bool try_take(std::uint32_t family, std::string_view routing_id, std::uint64_t per_minute, std::uint64_t now_ms);

    /// Frees buckets idle for `idle_ms` (the cleanup process, every 10 min).
    std::uint64_t sweep_idle(std::uint64_t now_ms, std::uint64_t idle_ms);

    /// Largest capacity the packed representation holds.
    static constexpr std::uint64_t max_per_minute = (std::uint64_t{1} << 28) / 256 - 1;

private:
    rate_entry* table_;
    std::uint32_t mask_;
    std::uint64_t seed_;
    std::uint64_t epoch_ms_;
};

} // namespace relay::shm
