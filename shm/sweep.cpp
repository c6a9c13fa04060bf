#include "shm/sweep.hpp"

#include <sched.h>

namespace relay::shm {

sweep_stats sweep_expired(store& s, std::uint64_t now_unix, std::uint64_t ttl_secs, sweep_budget budget)
{
    sweep_stats stats;
    // Creation times are never 0, so a cutoff of 0 expires nothing.
    auto cutoff_for = [now_unix](std::uint64_t ttl) { return now_unix >= ttl ? now_unix - ttl : 0; };
    store::per_kind cutoffs{};
    cutoffs[static_cast<std::size_t>(blob_kind::update)] = cutoff_for(ttl_secs);
    cutoffs[static_cast<std::size_t>(blob_kind::device_sync)] = cutoff_for(ttl_secs);
    cutoffs[static_cast<std::size_t>(blob_kind::recovery_proof)] = cutoff_for(recovery_proof_ttl_secs);
    for (std::uint32_t i = 0; i < s.shard_count(); ++i) {
        for (;;) {
            std::uint64_t const n = s.expire_shard(i, cutoffs, budget.deletions_per_lock, &stats.expired_by_kind);
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
