#include "shm/shard.hpp"

#include <time.h>

#include <atomic>
#include <cstring>

#include "shm/fault_injection.hpp"
#include "shm/lock_hold.hpp"
#include "shm/record_crc.hpp"

namespace relay::shm {
namespace {

std::uint64_t mix64(std::uint64_t x) noexcept
{
    // splitmix64 finaliser: good avalanche for table indexes.
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

} // namespace

std::uint64_t key_hash(std::uint64_t seed, std::string_view key) noexcept
{
    std::uint64_t h = mix64(seed ^ key.size());
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, key.data() + i, 8);
        h = mix64(h ^ word) + 0x9e3779b97f4a7c15ull;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, key.data() + i, key.size() - i);
    return mix64(h ^ tail ^ (key.size() << 56));
}

std::uint64_t table_hash(std::uint64_t seed, blob_kind kind, std::string_view key) noexcept
{
    return key_hash(seed + 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(kind), key);
}

std::uint32_t shard_of_key(store_header const& h, std::string_view key) noexcept
{
    return static_cast<std::uint32_t>(key_hash(h.hash_seed, key) >> 40) & (h.shard_count - 1);
}

void count_dropped(store_header& h, drop_reason why, std::uint64_t n) noexcept
{
    h.records_dropped[static_cast<std::size_t>(why)].fetch_add(n, std::memory_order_relaxed);
}

shard_view::shard_view(std::uint8_t* base, shard_header& header) noexcept
    : base_(base), h_(header), seed_(reinterpret_cast<store_header*>(base)->hash_seed),
      arena_offset_(reinterpret_cast<store_header*>(base)->arena_offset),
      page_count_(reinterpret_cast<store_header*>(base)->page_count)
{
}

bool shard_view::is_own_chunk(std::uint64_t offset) const noexcept
{
    if (offset < arena_offset_ || offset >= arena_offset_ + std::uint64_t{page_count_} * page_size)
        return false;
    std::uint64_t const rel = offset - arena_offset_;
    page_desc const& d = pool().desc(static_cast<std::uint32_t>(rel / page_size));
    if (d.owner != h_.index || d.size_class >= class_count)
        return false;
    return (rel % page_size) % chunk_size_of_class(d.size_class) == 0;
}

bool shard_view::has_page_identity(std::uint64_t offset) const noexcept
{
    chunk_header const* c = chunk(offset);
    page_desc const& d = pool().desc(static_cast<std::uint32_t>((offset - arena_offset_) / page_size));
    return c->stamp == chunk_stamp && c->size_class == d.size_class && c->owner == h_.index;
}

// ---------------------------------------------------------------------------
// chunks

void shard_view::push_partial_locked(std::uint32_t page)
{
    page_desc& d = pool().desc(page);
    std::uint32_t& head = h_.partial_head[d.size_class];
    d.prev = no_page;
    d.next = head;
    if (head != no_page)
        pool().desc(head).prev = page;
    head = page;
    d.on_list = 1;
}

void shard_view::unlink_partial_locked(std::uint32_t page)
{
    page_desc& d = pool().desc(page);
    if (!d.on_list)
        return;
    if (d.prev != no_page)
        pool().desc(d.prev).next = d.next;
    else
        h_.partial_head[d.size_class] = d.next;
    if (d.next != no_page)
        pool().desc(d.next).prev = d.prev;
    d.prev = d.next = no_page;
    d.on_list = 0;
}

void shard_view::take_page_locked(std::uint32_t cls)
{
    page_pool pool = this->pool();
    std::uint32_t const page = pool.take(index(), cls);
    if (page == no_page)
        return;
    RELAY_KILL_POINT("alloc.page_taken");
    // Chunk 0's header is the page's identity for recovery after a power cut;
    // the other chunks get theirs when they are allocated.
    chunk_header* c0 = chunk(pool.page_offset(page));
    std::memset(static_cast<void*>(c0), 0, sizeof(chunk_header));
    c0->stamp = chunk_stamp;
    c0->size_class = static_cast<std::uint8_t>(cls);
    c0->owner = index();
    h_.pages_of_class[cls] += 1;
    push_partial_locked(page);
}

std::uint64_t shard_view::alloc_chunk_locked(std::uint32_t cls)
{
    if (h_.partial_head[cls] == no_page)
        take_page_locked(cls);
    std::uint32_t const page = h_.partial_head[cls];
    if (page == no_page)
        return 0;
    page_desc& d = pool().desc(page);
    std::uint32_t word = 0;
    while (d.free_bits[word] == 0)
        ++word;
    std::uint32_t const bit = static_cast<std::uint32_t>(__builtin_ctzll(d.free_bits[word]));
    d.free_bits[word] &= ~(std::uint64_t{1} << bit);
    d.free_count -= 1;
    if (d.free_count == 0)
        unlink_partial_locked(page);
    std::uint64_t const off = pool().page_offset(page) + (word * 64 + bit) * chunk_size_of_class(cls);
    chunk_header* c = chunk(off);
    c->stamp = chunk_stamp;
    c->size_class = static_cast<std::uint8_t>(cls);
    c->owner = index();
    return off;
}

void shard_view::free_chunk_locked(std::uint64_t offset)
{
    chunk_header* c = chunk(offset);
    c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
    c->mailbox_next = 0;
    RELAY_KILL_POINT("free.before_bitmap");
    page_pool pool = this->pool();
    std::uint32_t const page = pool.page_of(offset);
    page_desc& d = pool.desc(page);
    std::uint32_t const i =
        static_cast<std::uint32_t>((offset - pool.page_offset(page)) / chunk_size_of_class(d.size_class));
    d.free_bits[i / 64] |= std::uint64_t{1} << (i % 64);
    d.free_count += 1;
    if (d.free_count == chunks_per_page(d.size_class)) {
        // Empty: back to the pool, where any shard and class can use it.
        unlink_partial_locked(page);
        h_.pages_of_class[d.size_class] -= 1;
        RELAY_KILL_POINT("free.page_unlinked");
        pool.give_back(page);
    } else if (!d.on_list) {
        push_partial_locked(page);
    }
}

void shard_view::free_chain_locked(std::uint64_t head)
{
    std::uint64_t off = head;
    for (std::uint32_t n = 0; off != 0 && n <= page_count_ * max_chunks_per_page; ++n) {
        std::uint64_t const next = chunk(off)->next;
        free_chunk_locked(off);
        off = next;
    }
}

// ---------------------------------------------------------------------------
// mailboxes

std::uint64_t* shard_view::bucket_of(blob_kind kind, std::string_view key) const noexcept
{
    return &buckets()[table_hash(seed_, kind, key) & (h_.buckets - 1)];
}

void shard_view::prefetch_lookups(blob_kind kind, std::string_view key) const noexcept
{
    __builtin_prefetch(bucket_of(kind, key));
}

std::uint64_t shard_view::find_mailbox_locked(blob_kind kind, std::string_view key) const
{
    if (key.size() != key_size)
        return 0;
    std::uint64_t const* bucket = bucket_of(kind, key);
    // Bounded by the number of mailboxes: a damaged link cannot hang a lookup.
    std::uint64_t steps = 0;
    for (std::uint64_t a = *bucket; a != 0 && steps <= h_.mailbox_count; a = anchor(a).bucket_next, ++steps)
        if (chunk(a)->kind == static_cast<std::uint8_t>(kind) &&
            std::memcmp(meta(a)->recipient, key.data(), key_size) == 0)
            return a;
    return 0;
}

std::uint64_t* shard_view::link_to_anchor(std::uint64_t a) const noexcept
{
    std::uint64_t* link =
        bucket_of(static_cast<blob_kind>(chunk(a)->kind), std::string_view(meta(a)->recipient, key_size));
    for (std::uint64_t steps = 0; *link != 0 && steps <= h_.mailbox_count; ++steps) {
        if (*link == a)
            return link;
        link = &anchor(*link).bucket_next;
    }
    return nullptr;
}

void shard_view::append_locked(std::uint64_t head)
{
    append_locked(head,
                  find_mailbox_locked(static_cast<blob_kind>(chunk(head)->kind),
                                      std::string_view(meta(head)->recipient, key_size)));
}

void shard_view::append_locked(std::uint64_t head, std::uint64_t a)
{
    chunk_header* c = chunk(head);
    blob_meta* m = meta(head);
    c->mailbox_next = 0;
    if (a == 0) {
        std::uint64_t* bucket = bucket_of(static_cast<blob_kind>(c->kind), std::string_view(m->recipient, key_size));
        m->anchor = mailbox_anchor{head, *bucket, m->total_bytes + quota_overhead_per_blob, 1, 0};
        *bucket = head;
        h_.mailbox_count += 1;
    } else {
        mailbox_anchor& box = anchor(a);
        chunk(box.tail)->mailbox_next = head;
        box.tail = head;
        box.count += 1;
        RELAY_KILL_POINT("put.quota_half_updated");
        box.quota_bytes += m->total_bytes + quota_overhead_per_blob;
    }
    h_.blob_count += 1;
    h_.kind_count[c->kind] += 1;
    h_.data_bytes += m->total_bytes;
    for (std::uint64_t off = head; off != 0; off = chunk(off)->next)
        h_.chunk_bytes += chunk_size_of_class(chunk(off)->size_class);
}

void shard_view::delete_record_locked(std::uint64_t a, std::uint64_t prev, std::uint64_t head)
{
    chunk_header* c = chunk(head);
    std::uint64_t const total = meta(head)->total_bytes;
    std::uint64_t chunk_bytes = 0;
    for (std::uint64_t off = head; off != 0; off = chunk(off)->next)
        chunk_bytes += chunk_size_of_class(chunk(off)->size_class);

    c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
    RELAY_KILL_POINT("delete.after_uncommit");

    std::uint64_t const next = c->mailbox_next;
    if (head == a) {
        std::uint64_t* link = link_to_anchor(a);
        if (next == 0) {
            if (link != nullptr)
                *link = anchor(a).bucket_next;
            h_.mailbox_count -= 1;
        } else {
            // The next record becomes the anchor in the same bucket position.
            mailbox_anchor moved = anchor(a);
            moved.count -= 1;
            moved.quota_bytes -= total + quota_overhead_per_blob;
            anchor(next) = moved;
            if (link != nullptr)
                *link = next;
        }
    } else {
        mailbox_anchor& box = anchor(a);
        chunk(prev)->mailbox_next = next;
        if (box.tail == head)
            box.tail = prev;
        box.count -= 1;
        box.quota_bytes -= total + quota_overhead_per_blob;
    }
    h_.blob_count -= 1;
    h_.kind_count[c->kind] -= 1;
    h_.data_bytes -= total;
    h_.chunk_bytes -= chunk_bytes;
    RELAY_KILL_POINT("delete.after_unlink");
    std::uint64_t const seq = c->seq;
    free_chain_locked(head);
    if (h_.retired_head != 0)
        drop_retired_copy_locked(seq); // else a crash before the release would bring the record back
}

void shard_view::delete_record_locked(std::uint64_t head)
{
    std::uint64_t const a = find_mailbox_locked(static_cast<blob_kind>(chunk(head)->kind),
                                                std::string_view(meta(head)->recipient, key_size));
    if (a == 0)
        return;
    std::uint64_t prev = 0;
    for (std::uint64_t off = a; off != 0; prev = off, off = chunk(off)->mailbox_next)
        if (off == head) {
            delete_record_locked(a, prev, head);
            return;
        }
}

// ---------------------------------------------------------------------------
// records

std::uint64_t shard_view::live_reservation(worker_slot const& slot) const noexcept
{
    std::uint64_t const head = slot.reserved_head.load(std::memory_order_acquire);
    if (head == 0 || slot.reserved_shard.load(std::memory_order_relaxed) != h_.index || !is_own_chunk(head) ||
        !has_page_identity(head) ||
        chunk(head)->state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(chunk_state::reserved) ||
        chunk(head)->seq != slot.reserved_seq.load(std::memory_order_relaxed))
        return 0;
    return head;
}

bool shard_view::read_record_locked(std::uint64_t head, std::uint8_t* out) const
{
    chunk_header const* c = chunk(head);
    blob_meta const* m = meta(head);
    record_checksum crc(store().crc_seed, *c, *m);
    std::uint8_t const* tail = head_tail(head);
    crc.add(tail, c->sender_message_id_len);
    std::uint64_t copied = 0;
    std::uint64_t const total = m->total_bytes;
    std::uint64_t off = head;
    for (std::uint32_t n = 0; off != 0; off = chunk(off)->next, ++n) {
        chunk_header const* part = chunk(off);
        if (n > 0 &&
            (!is_own_chunk(off) || part->seq != c->seq ||
             part->state.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(chunk_state::continuation)))
            return false;
        std::uint64_t const room = chunk_size_of_class(part->size_class) -
            (n == 0 ? head_overhead + c->sender_message_id_len : sizeof(chunk_header));
        if (part->bytes_here > room || part->bytes_here > total - copied)
            return false;
        std::uint8_t const* src = n == 0 ? tail + c->sender_message_id_len
                                         : reinterpret_cast<std::uint8_t const*>(part) + sizeof(chunk_header);
        if (part->bytes_here != 0) { // an empty record's `out` may be null
            std::memcpy(out + copied, src, part->bytes_here);
            crc.add(src, part->bytes_here);
        }
        copied += part->bytes_here;
    }
    return copied == total && crc.value() == c->record_crc;
}

std::uint64_t shard_view::find_record_locked(blob_kind kind, std::string_view key, std::uint64_t seq) const
{
    // Mailboxes are in sequence order, so the walk stops at the first later record.
    std::uint64_t steps = 0;
    for (std::uint64_t off = find_mailbox_locked(kind, key); off != 0 && steps <= h_.blob_count;
         off = chunk(off)->mailbox_next, ++steps) {
        if (chunk(off)->seq == seq)
            return off;
        if (chunk(off)->seq > seq)
            return 0;
    }
    return 0;
}

bool shard_view::is_live_head(std::uint64_t offset) const noexcept
{
    chunk_header const* c = chunk(offset);
    return c->state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(chunk_state::committed) &&
        (c->delivery_flags.load(std::memory_order_relaxed) & delivery_flag_retired) == 0;
}

// ---------------------------------------------------------------------------

namespace {
std::atomic<lock_hold_histogram*> hold_histogram{nullptr};
thread_local std::uint64_t hold_started_ns = 0;

std::uint64_t monotonic_ns() noexcept
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}
} // namespace

void record_lock_holds(lock_hold_histogram* into) noexcept { hold_histogram.store(into, std::memory_order_relaxed); }

shard_guard::shard_guard(shard_view& shard) : shard_(shard)
{
    lock_outcome const outcome = shard_.header().lock.lock();
    if (hold_histogram.load(std::memory_order_relaxed) != nullptr)
        hold_started_ns = monotonic_ns();
    if (outcome != lock_outcome::owner_died)
        return;
    shard_.repair_after_owner_died_locked();
    shard_.header().lock.mark_consistent();
    repaired_ = true;
}

shard_guard::~shard_guard()
{
    if (lock_hold_histogram* h = hold_histogram.load(std::memory_order_relaxed); h != nullptr && hold_started_ns != 0)
        h->add(monotonic_ns() - hold_started_ns);
    shard_.header().lock.unlock();
}

} // namespace relay::shm
