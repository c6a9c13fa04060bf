#pragma once
// The compaction round run by the cleanup process (docs/store.md,
// "Compaction"): records move off sparse pages shard by shard, the store file
// is flushed, then the old copies are freed and emptied pages return to the
// pool, where any shard and size class can take them.

#include <cstdint>
#include <functional>

#include "shm/store.hpp"

namespace relay::shm {

struct compaction_budget {
    std::uint32_t moves_per_lock = 1024; ///< records moved per shard lock hold
    std::uint32_t max_batches = 64;      ///< batches (each ending with a flush) per round
};

struct compaction_round {
    std::uint64_t moved = 0;
    std::uint32_t batches = 0;
    std::uint32_t free_pages_before = 0;
    std::uint32_t free_pages_after = 0;
};

/// True when fewer than half the pages are in the pool: only then is the
/// space that a size class holds beyond its needs worth moving records for.
bool compaction_wanted(store const& s);

/// One round. `flush` must put the store file's dirty pages on stable storage
/// (or do nothing for a store that is not a file): the old copies of moved
/// records are freed only after it returned.
compaction_round compact_store(store& s, std::function<void()> const& flush, compaction_budget budget = {});

} // namespace relay::shm
