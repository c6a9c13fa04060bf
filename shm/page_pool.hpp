#pragma once
// The pool of free pages that every shard takes pages from and gives empty
// pages back to (docs/store.md, "Pages, the pool and shards"). Its free list
// and the owner of every page change only under the pool's robust lock; a
// shard calls in while holding its own lock (lock order: shard, then pool).

#include <cstdint>
#include <string>

#include "shm/check_result.hpp"
#include "shm/layout.hpp"

namespace relay::shm {

class page_pool {
public:
    explicit page_pool(std::uint8_t* base) noexcept;

    store_header& store() const noexcept { return *reinterpret_cast<store_header*>(base_); }
    pool_header& header() const noexcept { return *reinterpret_cast<pool_header*>(base_ + store().pool_offset); }
    page_desc& desc(std::uint32_t page) const noexcept { return descs_[page]; }
    std::uint32_t page_count() const noexcept { return page_count_; }
    std::uint64_t page_offset(std::uint32_t page) const noexcept
    {
        return arena_offset_ + std::uint64_t{page} * page_size;
    }
    /// The page an offset lies in, or no_page outside the arena.
    std::uint32_t page_of(std::uint64_t offset) const noexcept;
    /// Pages in the pool now (a relaxed read: metrics and tests).
    std::uint32_t free_pages() const noexcept;

    /// Takes a free page for shard `owner` and class `cls`: afterwards its
    /// descriptor says so, with every chunk free and the page on no list.
    /// no_page if the pool is empty.
    std::uint32_t take(std::uint16_t owner, std::uint32_t cls);
    /// Returns a page whose chunks are all free (and which is on no list).
    void give_back(std::uint32_t page);

    /// Makes every page free and the free list hold them all (a new store).
    void reset_all_free();
    /// Rebuilds the free list from the descriptors whose owner is none. Only
    /// under the pool lock (pool_guard does it after a holder's death).
    void rebuild_free_list_locked();
    check_result check_locked() const;
    void reinit_lock();

private:
    std::uint8_t* base_;
    page_desc* descs_;
    std::uint64_t arena_offset_;
    std::uint32_t page_count_;
};

/// Holds the pool's lock for a scope, repairing the free list if the previous
/// holder died inside it (always provable: owners are written under the lock).
class pool_guard final {
public:
    explicit pool_guard(page_pool& pool);
    ~pool_guard();
    pool_guard(pool_guard const&) = delete;
    pool_guard& operator=(pool_guard const&) = delete;

private:
    page_pool& pool_;
};

} // namespace relay::shm
