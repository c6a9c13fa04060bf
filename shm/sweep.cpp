#include "shm/sweep.hpp"

#include <sched.h>

namespace relay::shm {

sweep_stats sweep_expired(store& s, std::uint64_t now_unix, std::uint64_t ttl_secs, sweep_budget budget)
{
    sweep_stats stats;
    std::uint64_t const cutoff = now_unix >= ttl_secs ? now_unix - ttl_secs : 0;
    if (now_unix < ttl_secs)
        return stats; // nothing can be that old
    for (std::uint32_t i = 0; i < s.shard_count(); ++i) {
        for (;;) {
            std::uint64_t const n = s.expire_shard(i, cutoff, budget.deletions_per_lock);
            stats.expired += n;
            if (n < budget.deletions_per_lock)
                break;
            sched_yield(); // let waiting workers take the lock between batches
        }
        ++stats.shards;
    }
    return stats;
}

} // namespace relay::shm
