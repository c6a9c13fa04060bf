// Rebuilding the whole store from its records at start (docs/store.md,
// "Recovery"): after a power cut the page descriptors, the pool, the
// mailboxes and every counter may hold any mix of old and new states, so
// none of it is trusted. Each page's identity comes from the header of its
// chunk 0; each shard is then rebuilt from the records on its pages.

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

/// Chunk 0 of each page, in page order. Through the mapping by default. With
/// a file opened O_DIRECT, it reads the arena in 1 MiB runs that bypass the
/// page cache instead: reading one header per page through the mapping
/// without readahead (MADV_RANDOM, as this once did) fills the page cache with
/// single-page folios, and every later write to the store then takes a page
/// fault per 4 KiB (it cost the store scenarios of bench/ up to half their
/// throughput); with readahead, it would read the whole store into memory.
class page_identity_reader {
public:
    page_identity_reader(std::uint8_t* base, page_pool const& pool, int direct_fd)
        : base_(base), pool_(pool), fd_(direct_fd)
    {
        if (fd_ >= 0 && ::posix_memalign(&buffer_, 4096, run_bytes) != 0)
            buffer_ = nullptr;
    }
    ~page_identity_reader() { std::free(buffer_); }
    page_identity_reader(page_identity_reader const&) = delete;
    page_identity_reader& operator=(page_identity_reader const&) = delete;

    chunk_header const& chunk0(std::uint32_t page)
    {
        if (buffer_ != nullptr && !failed_) {
            if (page < first_ || page >= first_ + count_)
                read_run(page);
            if (!failed_)
                return *reinterpret_cast<chunk_header const*>(static_cast<std::uint8_t*>(buffer_) +
                                                              std::uint64_t{page - first_} * page_size);
        }
        return *reinterpret_cast<chunk_header const*>(base_ + pool_.page_offset(page));
    }

private:
    static constexpr std::uint64_t run_bytes = 1u << 20;

    void read_run(std::uint32_t page)
    {
        std::uint32_t const pages =
            std::min<std::uint32_t>(static_cast<std::uint32_t>(run_bytes / page_size), pool_.page_count() - page);
        ssize_t const n =
            ::pread(fd_, buffer_, std::uint64_t{pages} * page_size, static_cast<off_t>(pool_.page_offset(page)));
        if (n != static_cast<ssize_t>(std::uint64_t{pages} * page_size)) {
            failed_ = true; // the mapping then answers (same bytes, only slower to live with)
            return;
        }
        first_ = page;
        count_ = pages;
    }

    std::uint8_t* base_;
    page_pool const& pool_;
    int fd_;
    void* buffer_ = nullptr;
    bool failed_ = false;
    std::uint32_t first_ = 0;
    std::uint32_t count_ = 0;
};

} // namespace

store::rebuild_stats store::recover_unshared(std::function<void(std::uint32_t, std::uint32_t)> const& progress,
                                             int identity_fd)
{
    // Locks held by processes of a previous run (possibly of a previous boot)
    // would never report their owner's death.
    reinit_locks();
    notify_rings(base_, header()).reinit_locks();
    presence_table(base_).clear_locked(); // no connection of a previous run is live
    for (std::uint32_t i = 0; i < shard_count(); ++i)
        shard(i).header().next_seq = 1; // rebuilt as one past the highest sequence found
    auto const stats = rebuild_all(progress, identity_fd);
    for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
        reset_slot(s);
        slot(s).pid.store(0);
        slot(s).heartbeat_ms.store(0);
    }
    return stats;
}

store::rebuild_stats store::rebuild_all(std::function<void(std::uint32_t, std::uint32_t)> const& progress,
                                        int identity_fd)
{
    rebuild_stats stats;
    store_header& h = header();
    // No writer lives: a reservation left in a slot names nothing.
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        slot(s).reserved_head.store(0);

    page_pool pool(base_);
    page_identity_reader identities(base_, pool, identity_fd);
    for (std::uint32_t p = 0; p < pool.page_count(); ++p) {
        page_desc& d = pool.desc(p);
        std::memset(static_cast<void*>(&d), 0, sizeof d);
        d.owner = owner_none;
        std::uint16_t owner = 0;
        std::uint8_t cls = 0;
        if (identity_of(h, identities.chunk0(p), owner, cls)) {
            d.owner = owner;
            d.size_class = cls;
        }
    }
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
