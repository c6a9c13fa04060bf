#include "shm/page_pool.hpp"

#include <cstring>

#include "common/log.hpp"
#include "shm/fault_injection.hpp"

namespace relay::shm {

page_pool::page_pool(std::uint8_t* base) noexcept
    : base_(base), descs_(reinterpret_cast<page_desc*>(base + store().descs_offset)),
      arena_offset_(store().arena_offset), page_count_(store().page_count)
{
}

std::uint32_t page_pool::page_of(std::uint64_t offset) const noexcept
{
    if (offset < arena_offset_)
        return no_page;
    std::uint64_t const page = (offset - arena_offset_) / page_size;
    return page < page_count_ ? static_cast<std::uint32_t>(page) : no_page;
}

std::uint32_t page_pool::free_pages() const noexcept { return __atomic_load_n(&header().free_pages, __ATOMIC_RELAXED); }

std::uint32_t page_pool::take(std::uint16_t owner, std::uint32_t cls)
{
    pool_guard guard(*this);
    pool_header& p = header();
    std::uint32_t const page = p.free_head;
    if (page == no_page)
        return no_page;
    page_desc& d = descs_[page];
    p.free_head = d.next;
    p.free_pages -= 1;
    RELAY_KILL_POINT("pool.take_after_pop");
    // The page is on no list now; until its owner is written a pool repair
    // would put it back (its owner is still none).
    std::uint32_t const n = chunks_per_page(cls);
    std::memset(d.free_bits, 0, sizeof d.free_bits);
    for (std::uint32_t w = 0; w < n / 64; ++w)
        d.free_bits[w] = ~std::uint64_t{0};
    if (n % 64 != 0)
        d.free_bits[n / 64] = (std::uint64_t{1} << (n % 64)) - 1;
    d.free_count = static_cast<std::uint16_t>(n);
    d.size_class = static_cast<std::uint8_t>(cls);
    d.prev = d.next = no_page;
    d.on_list = 0;
    d.owner = owner;
    p.pages_taken.fetch_add(1, std::memory_order_relaxed);
    return page;
}

void page_pool::give_back(std::uint32_t page)
{
    pool_guard guard(*this);
    pool_header& p = header();
    page_desc& d = descs_[page];
    d.owner = owner_none;
    RELAY_KILL_POINT("pool.give_back_after_owner");
    d.prev = no_page;
    d.next = p.free_head;
    d.on_list = 1;
    p.free_head = page;
    p.free_pages += 1;
    p.pages_returned.fetch_add(1, std::memory_order_relaxed);
}

void page_pool::reset_all_free()
{
    for (std::uint32_t page = 0; page < page_count_; ++page) {
        page_desc& d = descs_[page];
        std::memset(static_cast<void*>(&d), 0, sizeof d);
        d.owner = owner_none;
    }
    rebuild_free_list_locked();
}

void page_pool::rebuild_free_list_locked()
{
    pool_header& p = header();
    p.free_head = no_page;
    p.free_pages = 0;
    // Backwards, so the list hands out low pages first.
    for (std::uint32_t page = page_count_; page-- > 0;) {
        page_desc& d = descs_[page];
        if (d.owner != owner_none)
            continue;
        d.prev = no_page;
        d.next = p.free_head;
        d.on_list = 1;
        p.free_head = page;
        p.free_pages += 1;
    }
    p.page_count = page_count_;
}

check_result page_pool::check_locked() const
{
    pool_header const& p = header();
    std::uint32_t listed = 0;
    for (std::uint32_t page = p.free_head; page != no_page; page = descs_[page].next) {
        if (page >= page_count_ || descs_[page].owner != owner_none || ++listed > page_count_)
            return check_result::failure("the pool's free list holds an owned or invalid page");
    }
    std::uint32_t unowned = 0;
    for (std::uint32_t page = 0; page < page_count_; ++page)
        unowned += descs_[page].owner == owner_none;
    if (listed != unowned || listed != p.free_pages)
        return check_result::failure("the pool's free list disagrees with the pages it owns");
    return {};
}

void page_pool::reinit_lock() { header().lock.init(); }

pool_guard::pool_guard(page_pool& pool) : pool_(pool)
{
    if (pool_.header().lock.lock() == lock_outcome::owner_died) {
        pool_.rebuild_free_list_locked();
        RELAY_LOG_WARN("page pool: previous lock holder died; free list rebuilt (%u free pages)",
                       pool_.header().free_pages);
        pool_.header().lock.mark_consistent();
    }
}

pool_guard::~pool_guard() { pool_.header().lock.unlock(); }

} // namespace relay::shm
