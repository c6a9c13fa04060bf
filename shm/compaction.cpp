#include "shm/compaction.hpp"

#include <sched.h>

namespace relay::shm {

bool compaction_wanted(store const& s)
{
    return std::uint64_t{page_pool(s.base()).free_pages()} * 2 < s.header().page_count;
}

compaction_round compact_store(store& s, std::function<void()> const& flush, compaction_budget budget)
{
    compaction_round round;
    page_pool pool(s.base());
    round.free_pages_before = pool.free_pages();
    // Batches go on while they give pages back: one pass per shard moves at
    // most a budget, and records it could not place then may find room.
    for (std::uint32_t free_before = pool.free_pages(); round.batches < budget.max_batches;) {
        std::uint64_t moved = 0;
        for (std::uint32_t i = 0; i < s.shard_count(); ++i) {
            moved += s.compact_shard(i, budget.moves_per_lock);
            sched_yield(); // let waiting workers take the lock between shards
        }
        if (moved == 0)
            break;
        if (round.batches++ == 0)
            pool.header().compactions.fetch_add(1, std::memory_order_relaxed);
        round.moved += moved;
        flush();
        for (std::uint32_t i = 0; i < s.shard_count(); ++i)
            s.release_retired(i);
        // Counted per batch: a long round shows its progress in the metrics.
        pool.header().records_moved.fetch_add(moved, std::memory_order_relaxed);
        std::uint32_t const free_after = pool.free_pages();
        if (free_after <= free_before)
            break;
        free_before = free_after;
    }
    round.free_pages_after = pool.free_pages();
    return round;
}

} // namespace relay::shm
