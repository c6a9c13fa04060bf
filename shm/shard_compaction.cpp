// Compaction of one shard (docs/store.md, "Compaction").
//
// Pages go back to the pool only when their last chunk is freed. When small
// records are acknowledged in random order, nearly every page keeps one, so
// the freed space stays with its size class. Compaction moves the live
// records off a class's sparsest pages into the free chunks of its fuller
// ones, so that the sparse pages empty and return to the pool.
//
// A move never has a moment when the record exists nowhere, in memory or on
// disk: the new copy is written and committed beside the old one, the
// mailbox is switched to it, and the old copy stays committed ("retired")
// until the file has been flushed after the move. Two committed copies of
// one record (same sequence, same blob id) are exactly what recovery keeps
// one of, so a SIGKILL or a power cut at any instant leaves one copy.

#include <algorithm>
#include <cstring>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "shm/fault_injection.hpp"
#include "shm/shard.hpp"

namespace relay::shm {
namespace {

/// A class is compacted when it holds at least this many pages more than its
/// live chunks need, and at least an eighth more: small slack is normal churn.
bool worth_compacting(std::uint32_t pages, std::uint32_t spare_pages) noexcept
{
    return spare_pages >= 2 && spare_pages * 8 >= pages;
}

} // namespace

std::uint64_t shard_view::alloc_chunk_for_move_locked(std::uint32_t cls, bool leaves_sparse_page)
{
    // A chunk leaving a sparse page never lands on a page from the pool: the
    // class's other pages have room for everything that leaves (that is how
    // the sparse pages were chosen). The rest of a moved record (its chunks
    // on other pages) is allocated like any chunk: what it takes, its old
    // chunks give back at the release.
    if (leaves_sparse_page && h_.partial_head[cls] == no_page)
        return 0;
    return alloc_chunk_locked(cls);
}

std::uint64_t shard_view::relocate_record_locked(std::uint64_t a, std::uint64_t prev, std::uint64_t head,
                                                 std::vector<std::uint8_t> const& is_source)
{
    boost::container::small_vector<std::uint64_t, 8> from, to;
    for (std::uint64_t off = head; off != 0 && from.size() <= page_count_; off = chunk(off)->next)
        from.push_back(off);
    for (std::uint64_t off : from) {
        std::uint64_t const fresh =
            alloc_chunk_for_move_locked(chunk(off)->size_class, is_source[pool().page_of(off)] != 0);
        if (fresh == 0) {
            for (std::uint64_t taken : to)
                free_chunk_locked(taken);
            return 0;
        }
        to.push_back(fresh);
    }

    // The copy: every chunk's bytes after its header, then the headers, the
    // head's state last. Until that store the copy is free chunks; after it,
    // a committed duplicate that recovery would keep one of.
    for (std::size_t i = 0; i < from.size(); ++i) {
        chunk_header const* src = chunk(from[i]);
        chunk_header* dst = chunk(to[i]);
        std::uint64_t const size = chunk_size_of_class(src->size_class);
        std::memcpy(reinterpret_cast<std::uint8_t*>(dst) + sizeof(chunk_header),
                    reinterpret_cast<std::uint8_t const*>(src) + sizeof(chunk_header), size - sizeof(chunk_header));
        dst->kind = src->kind;
        dst->sender_message_id_len = src->sender_message_id_len;
        dst->bytes_here = src->bytes_here;
        dst->record_crc = src->record_crc;
        dst->record_flags = src->record_flags;
        dst->delivery_flags.store(src->delivery_flags.load(std::memory_order_relaxed) & ~delivery_flag_retired,
                                  std::memory_order_relaxed);
        dst->seq = src->seq;
        dst->next = i + 1 < to.size() ? to[i + 1] : 0;
        dst->mailbox_next = i == 0 ? src->mailbox_next : 0;
        if (i > 0)
            dst->state.store(static_cast<std::uint32_t>(chunk_state::continuation), std::memory_order_release);
    }
    std::uint64_t const copy = to.front();
    chunk(copy)->state.store(static_cast<std::uint32_t>(chunk_state::committed), std::memory_order_release);
    RELAY_KILL_POINT("compact.after_copy");

    // The mailbox switches to the copy: one store of a link.
    if (head == a) {
        mailbox_anchor& box = anchor(copy); // copied with the metadata
        if (box.tail == head)
            box.tail = copy;
        if (std::uint64_t* link = link_to_anchor(a))
            *link = copy;
    } else {
        chunk(prev)->mailbox_next = copy;
        if (anchor(a).tail == head)
            anchor(a).tail = copy;
    }
    RELAY_KILL_POINT("compact.after_link");

    // The old copy stays committed, out of every mailbox, until a flush.
    chunk_header* old = chunk(head);
    old->delivery_flags.fetch_or(delivery_flag_retired, std::memory_order_relaxed);
    old->mailbox_next = h_.retired_head;
    h_.retired_head = head;
    h_.retired_count += 1;
    return copy;
}

std::uint64_t shard_view::compact_locked(std::uint32_t budget)
{
    page_pool pool = this->pool();
    // 1. Per class, the sparsest pages that the fuller ones can absorb. They
    //    leave their partial list, so no allocation lands on them meanwhile.
    std::vector<std::uint32_t> sources;
    std::vector<std::uint8_t> is_source(page_count_, 0);
    for (std::uint32_t cls = 0; cls < class_count; ++cls) {
        std::uint32_t const per_page = chunks_per_page(cls);
        std::uint32_t const pages = h_.pages_of_class[cls];
        if (per_page < 2 || pages < 2)
            continue;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> partial; // (used chunks, page)
        std::uint64_t free_chunks = 0;
        for (std::uint32_t p = h_.partial_head[cls]; p != no_page && partial.size() < pages; p = pool.desc(p).next) {
            partial.emplace_back(per_page - pool.desc(p).free_count, p);
            free_chunks += pool.desc(p).free_count;
        }
        std::uint64_t const used = std::uint64_t{pages} * per_page - free_chunks;
        std::uint32_t const needed = static_cast<std::uint32_t>((used + per_page - 1) / per_page);
        std::uint32_t const spare = pages > needed ? pages - needed : 0;
        if (!worth_compacting(pages, spare))
            continue;
        std::sort(partial.begin(), partial.end());
        for (std::uint32_t i = 0; i < spare && i < partial.size(); ++i) {
            unlink_partial_locked(partial[i].second);
            is_source[partial[i].second] = 1;
            sources.push_back(partial[i].second);
        }
    }
    if (sources.empty())
        return 0;

    // 2. Every record with a chunk on a source page moves, mailbox by mailbox
    //    (the walk knows each record's predecessor).
    auto on_source = [&](std::uint64_t head) {
        for (std::uint64_t off = head; off != 0; off = chunk(off)->next)
            if (is_source[pool.page_of(off)])
                return true;
        return false;
    };
    std::uint64_t moved = 0;
    std::uint32_t refused = 0; // moves without room: a few are skipped, many end the pass
    constexpr std::uint32_t max_refused = 64;
    for (std::uint32_t b = 0; b < h_.buckets && refused < max_refused && moved < budget; ++b) {
        std::uint64_t steps = 0;
        for (std::uint64_t* link = &buckets()[b]; *link != 0 && refused < max_refused && steps <= h_.mailbox_count;
             ++steps) {
            std::uint64_t a = *link;
            std::uint64_t prev = 0;
            for (std::uint64_t off = a; off != 0 && moved < budget && refused < max_refused;) {
                if (on_source(off)) {
                    if (std::uint64_t const copy = relocate_record_locked(a, prev, off, is_source); copy != 0) {
                        if (off == a)
                            a = copy;
                        off = copy;
                        ++moved;
                    } else {
                        ++refused;
                    }
                }
                prev = off;
                off = chunk(off)->mailbox_next;
            }
            link = &anchor(a).bucket_next;
        }
    }

    // 3. A source page still holding something other than retired copies
    //    (a record not reached, a reservation) goes back on its list; the
    //    others wait, off every list, for release_retired_locked().
    std::vector<std::uint16_t> retired_on(page_count_, 0);
    for (std::uint64_t off = h_.retired_head; off != 0; off = chunk(off)->mailbox_next)
        for (std::uint64_t part = off; part != 0; part = chunk(part)->next)
            retired_on[pool.page_of(part)] += 1;
    for (std::uint32_t p : sources) {
        page_desc const& d = pool.desc(p);
        if (!d.on_list && chunks_per_page(d.size_class) - d.free_count != retired_on[p])
            push_partial_locked(p);
    }
    return moved;
}

std::uint64_t shard_view::release_retired_locked()
{
    std::uint64_t released = 0;
    for (std::uint64_t off = h_.retired_head; off != 0 && released < h_.retired_count; ++released) {
        std::uint64_t const next = chunk(off)->mailbox_next;
        RELAY_KILL_POINT("compact.before_release");
        free_chain_locked(off);
        off = next;
    }
    h_.retired_head = 0;
    h_.retired_count = 0;
    return released;
}

void shard_view::drop_retired_copy_locked(std::uint64_t seq)
{
    std::uint64_t* link = &h_.retired_head;
    for (std::uint64_t n = 0; *link != 0 && n < h_.retired_count; ++n) {
        std::uint64_t const off = *link;
        if (chunk(off)->seq == seq) {
            *link = chunk(off)->mailbox_next;
            h_.retired_count -= 1;
            free_chain_locked(off);
            return;
        }
        link = &chunk(off)->mailbox_next;
    }
}

} // namespace relay::shm
