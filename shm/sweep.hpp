#pragma once
// The expiry sweep run by the cleanup process (STYLE G12): shard by shard,
// with a budget per lock hold so that no worker waits long behind it.

#include <cstdint>

#include "shm/store.hpp"

namespace relay::shm {

struct sweep_budget {
    std::uint32_t deletions_per_lock = 256; ///< blobs deleted per lock hold before yielding
};

struct sweep_stats {
    std::uint64_t expired = 0;
    std::uint32_t shards = 0;
};

/// Deletes every blob created at or before now − ttl (PROTOCOL §8.4: TTL 0
/// expires everything). `now_unix` is injected so tests control the clock.
sweep_stats sweep_expired(store& s, std::uint64_t now_unix, std::uint64_t ttl_secs, sweep_budget budget = {});

} // namespace relay::shm
