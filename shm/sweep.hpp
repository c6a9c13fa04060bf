#pragma once
// The expiry sweep run by the cleanup process: shard by shard,
// with a budget per lock hold so that no worker waits long behind it.

#include <cstdint>

#include "shm/store.hpp"

namespace relay::shm {

struct sweep_budget {
    std::uint32_t deletions_per_lock = 256; ///< records deleted per lock hold before yielding
};

/// Recovery proofs live 90 days whatever the blob TTL (docs/protocol.md#s8-4).
inline constexpr std::uint64_t recovery_proof_ttl_secs = 90ull * 24 * 3600;

struct sweep_stats {
    std::uint64_t expired = 0; ///< all kinds
    store::per_kind expired_by_kind{};
    std::uint32_t shards = 0;
};

/// Deletes every update and device-sync message created at or before now − ttl
/// (docs/protocol.md#s8-4: TTL 0 expires everything) and every recovery proof older
/// than 90 days. `now_unix` is injected so tests control the clock.
sweep_stats sweep_expired(store& s, std::uint64_t now_unix, std::uint64_t ttl_secs, sweep_budget budget = {});

} // namespace relay::shm
