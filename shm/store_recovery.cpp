// Rebuilding the whole store from its records at start (docs/store.md,
// "Recovery"): after a power cut the page descriptors, the pool, the
// mailboxes and every counter may hold any mix of old and new states, so
// none of it is trusted. Each page's identity comes from the header of its
// chunk 0; each shard is then rebuilt from the records on its pages.

#include <sys/mman.h>

#include <cstring>

#include "shm/notify_ring.hpp"
#include "shm/page_pool.hpp"
#include "shm/presence_table.hpp"
#include "shm/shard.hpp"
#include "shm/store.hpp"

namespace relay::shm {
namespace {

/// The page's identity as its chunk 0 states it, if it states one.
bool identity_of(store_header const& h, chunk_header const& c0, std::uint16_t& owner, std::uint8_t& cls)
{
    if (c0.stamp != chunk_stamp || c0.size_class >= class_count || c0.owner >= h.shard_count)
        return false;
    owner = c0.owner;
    cls = c0.size_class;
    return true;
}

} // namespace

store::rebuild_stats store::recover_unshared(std::function<void(std::uint32_t, std::uint32_t)> const& progress)
{
    // Locks held by processes of a previous run (possibly of a previous boot)
    // would never report their owner's death.
    reinit_locks();
    notify_rings(base_, header()).reinit_locks();
    presence_table(base_).clear_locked(); // no connection of a previous run is live
    for (std::uint32_t i = 0; i < shard_count(); ++i)
        shard(i).header().next_seq = 1; // rebuilt as one past the highest sequence found
    auto const stats = rebuild_all(progress);
    for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
        reset_slot(s);
        slot(s).pid.store(0);
        slot(s).heartbeat_ms.store(0);
    }
    return stats;
}

store::rebuild_stats store::rebuild_all(std::function<void(std::uint32_t, std::uint32_t)> const& progress)
{
    rebuild_stats stats;
    store_header& h = header();
    // No writer lives: a reservation left in a slot names nothing.
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        slot(s).reserved_head.store(0);

    page_pool pool(base_);
    // Only the first header of each page is read: without readahead, a store
    // that holds few records stays as little resident as it was.
    std::uint8_t* const arena = base_ + h.arena_offset;
    std::uint64_t const arena_bytes = std::uint64_t{h.page_count} * page_size;
    ::madvise(arena, arena_bytes, MADV_RANDOM);
    for (std::uint32_t p = 0; p < pool.page_count(); ++p) {
        page_desc& d = pool.desc(p);
        std::memset(static_cast<void*>(&d), 0, sizeof d);
        d.owner = owner_none;
        std::uint16_t owner = 0;
        std::uint8_t cls = 0;
        if (identity_of(h, *reinterpret_cast<chunk_header const*>(base_ + pool.page_offset(p)), owner, cls)) {
            d.owner = owner;
            d.size_class = cls;
        }
    }
    ::madvise(arena, arena_bytes, MADV_NORMAL);
    {
        pool_guard guard(pool);
        pool.rebuild_free_list_locked();
    }
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
        auto const r = s.rebuild_locked();
        stats.kept += r.kept;
        stats.copies += r.copies;
        for (std::size_t k = 0; k < drop_reason_count; ++k)
            stats.dropped[k] += r.dropped[k];
        if (progress)
            progress(i + 1, shard_count());
    }
    return stats;
}

} // namespace relay::shm
