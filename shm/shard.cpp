#include "shm/shard.hpp"

#include <cstring>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/fault_injection.hpp"

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

template <class Entry>
bool entry_matches(Entry const& e, blob_kind kind, std::string_view key) noexcept
{
    return e.kind == static_cast<std::uint8_t>(kind) && key.size() == key_size &&
           std::memcmp(e.key, key.data(), key_size) == 0;
}

template <class Entry>
std::uint32_t home_of(Entry const& e, std::uint64_t seed, std::uint32_t mask) noexcept
{
    return static_cast<std::uint32_t>(table_hash(seed, static_cast<blob_kind>(e.kind), std::string_view(e.key, key_size))) &
           mask;
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

bool shard_view::is_chunk_offset(std::uint64_t offset) const noexcept
{
    if (offset < h_.arena_offset || offset >= h_.arena_offset + std::uint64_t{h_.page_count} * page_size)
        return false;
    std::uint64_t const rel = offset - h_.arena_offset;
    std::uint8_t const cls = page_table()[rel / page_size];
    if (cls >= class_count)
        return false;
    return (rel % page_size) % chunk_size_of_class(cls) == 0;
}

// ---------------------------------------------------------------------------
// chunks

bool shard_view::assign_page_locked(std::uint32_t cls)
{
    std::uint8_t* table = page_table();
    for (std::uint32_t p = 0; p < h_.page_count; ++p) {
        if (table[p] != page_unassigned)
            continue;
        // Headers first, page class last: until the class byte is written the
        // page is ignored by repair, and once it is, every grid position already
        // holds a valid free header (never stale bytes of an earlier life).
        std::uint64_t const size = chunk_size_of_class(cls);
        std::uint64_t const first = page_offset(p);
        std::uint64_t const n = page_size / size;
        for (std::uint64_t i = 0; i < n; ++i) {
            chunk_header* c = chunk(first + i * size);
            c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_relaxed);
            c->size_class = static_cast<std::uint8_t>(cls);
            c->flags = 0;
            c->kind = 0;
            c->bytes_here = 0;
            c->seq = 0;
            c->mailbox_next = 0;
            c->next = (i + 1 < n) ? first + (i + 1) * size : h_.free_head[cls];
        }
        std::atomic_thread_fence(std::memory_order_release);
        table[p] = static_cast<std::uint8_t>(cls);
        RELAY_KILL_POINT("alloc.page_assigned");
        h_.free_head[cls] = first;
        return true;
    }
    return false;
}

std::uint64_t shard_view::alloc_chunk_locked(std::uint32_t cls)
{
    if (h_.free_head[cls] == 0 && !assign_page_locked(cls))
        return 0;
    std::uint64_t const off = h_.free_head[cls];
    h_.free_head[cls] = chunk(off)->next;
    chunk(off)->next = 0;
    return off;
}

void shard_view::free_chunk_locked(std::uint64_t offset)
{
    chunk_header* c = chunk(offset);
    c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
    c->flags = 0;
    c->bytes_here = 0;
    c->mailbox_next = 0;
    RELAY_KILL_POINT("free.before_link");
    c->next = h_.free_head[c->size_class];
    h_.free_head[c->size_class] = offset;
}

void shard_view::free_chain_locked(std::uint64_t head)
{
    std::uint64_t off = head;
    while (off != 0) {
        std::uint64_t const next = chunk(off)->next;
        free_chunk_locked(off);
        off = next;
    }
}

void shard_view::delete_blob_locked(mailbox_entry* box, std::uint64_t prev, std::uint64_t head)
{
    chunk_header* c = chunk(head);
    blob_meta const* m = meta(head);
    std::uint64_t const total = m->total_bytes;
    std::uint64_t chunk_bytes = 0;
    for (std::uint64_t off = head; off != 0; off = chunk(off)->next)
        chunk_bytes += chunk_size_of_class(chunk(off)->size_class);

    c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
    RELAY_KILL_POINT("delete.after_uncommit");

    std::uint64_t const next = c->mailbox_next;
    if (prev == 0)
        box->head = next;
    else
        chunk(prev)->mailbox_next = next;
    if (box->tail == head)
        box->tail = prev;
    box->count -= 1;
    box->quota_bytes -= total + 36 + 8;
    h_.blob_count -= 1;
    h_.kind_count[box->kind] -= 1;
    h_.data_bytes -= total;
    h_.chunk_bytes -= chunk_bytes;
    RELAY_KILL_POINT("delete.after_unlink");

    free_chain_locked(head);
    if (box->count == 0)
        erase_mailbox_locked(box);
}

// ---------------------------------------------------------------------------
// open-addressing tables (linear probing, backward-shift deletion)

template <class Entry>
Entry* shard_view::find_in_locked(Entry* table, std::uint32_t capacity, blob_kind kind, std::string_view key) const
{
    std::uint32_t const mask = capacity - 1;
    std::uint32_t i = static_cast<std::uint32_t>(table_hash(seed_, kind, key)) & mask;
    for (std::uint32_t probes = 0; probes < capacity; ++probes, i = (i + 1) & mask) {
        if (!table[i].used)
            return nullptr;
        if (entry_matches(table[i], kind, key))
            return &table[i];
    }
    return nullptr;
}

namespace {

template <class Entry>
Entry* add_entry(Entry* table, std::uint32_t capacity, std::uint32_t& used, std::uint64_t seed, blob_kind kind,
                 std::string_view key)
{
    // Keep a quarter free so probe sequences stay short.
    if (std::uint64_t{used} + 1 > std::uint64_t{capacity} * 3 / 4)
        return nullptr;
    std::uint32_t const mask = capacity - 1;
    std::uint32_t i = static_cast<std::uint32_t>(table_hash(seed, kind, key)) & mask;
    while (table[i].used)
        i = (i + 1) & mask;
    Entry& e = table[i];
    std::memset(&e, 0, sizeof(Entry));
    std::memcpy(e.key, key.data(), key_size);
    e.kind = static_cast<std::uint8_t>(kind);
    e.used = 1;
    ++used;
    return &e;
}

template <class Entry>
void erase_entry(Entry* table, std::uint32_t capacity, std::uint32_t& used, std::uint64_t seed, Entry* victim)
{
    std::uint32_t const mask = capacity - 1;
    std::uint32_t hole = static_cast<std::uint32_t>(victim - table);
    std::uint32_t j = hole;
    // Backward-shift: move later members of the probe run into the hole so that
    // lookups never need tombstones.
    for (;;) {
        j = (j + 1) & mask;
        if (!table[j].used)
            break;
        std::uint32_t const home = home_of(table[j], seed, mask);
        // Can the entry at j move to hole? Only if its home is not in (hole, j].
        bool const movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            std::memcpy(&table[hole], &table[j], sizeof(Entry));
            RELAY_KILL_POINT("table.erase_shift");
            hole = j;
        }
    }
    table[hole].used = 0;
    --used;
}

} // namespace

void shard_view::prefetch_lookups(blob_kind kind, std::string_view key) const noexcept
{
    std::uint32_t const box = static_cast<std::uint32_t>(table_hash(seed_, kind, key)) & (h_.mailbox_capacity - 1);
    std::uint32_t const presence =
        static_cast<std::uint32_t>(table_hash(seed_, blob_kind::update, key)) & (h_.presence_capacity - 1);
    // The probe reads `used` first, then compares the key: up to two lines each.
    __builtin_prefetch(&mailboxes()[box].used);
    __builtin_prefetch(mailboxes()[box].key);
    __builtin_prefetch(&presences()[presence].used);
    __builtin_prefetch(presences()[presence].key);
}

mailbox_entry* shard_view::find_mailbox_locked(blob_kind kind, std::string_view key) const
{
    return find_in_locked(mailboxes(), h_.mailbox_capacity, kind, key);
}

mailbox_entry* shard_view::find_or_add_mailbox_locked(blob_kind kind, std::string_view key)
{
    if (auto* e = find_mailbox_locked(kind, key))
        return e;
    return add_entry(mailboxes(), h_.mailbox_capacity, h_.mailbox_used, seed_, kind, key);
}

void shard_view::erase_mailbox_locked(mailbox_entry* entry)
{
    erase_entry(mailboxes(), h_.mailbox_capacity, h_.mailbox_used, seed_, entry);
}

presence_entry* shard_view::find_presence_locked(std::string_view key) const
{
    return find_in_locked(presences(), h_.presence_capacity, blob_kind::update, key);
}

presence_entry* shard_view::find_or_add_presence_locked(std::string_view key)
{
    if (auto* e = find_presence_locked(key))
        return e;
    return add_entry(presences(), h_.presence_capacity, h_.presence_used, seed_, blob_kind::update, key);
}

void shard_view::erase_presence_locked(presence_entry* entry)
{
    erase_entry(presences(), h_.presence_capacity, h_.presence_used, seed_, entry);
}

std::uint64_t shard_view::slot_mask(presence_entry const& e) noexcept
{
    std::uint64_t mask = 0;
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        if (e.per_slot[s] != 0)
            mask |= std::uint64_t{1} << s;
    return mask;
}

// ---------------------------------------------------------------------------

namespace {
bool unprovable_repair_is_fatal = true;
std::uint64_t unprovable_repairs = 0;
} // namespace

void set_unprovable_repair_fatal(bool fatal) { unprovable_repair_is_fatal = fatal; }
std::uint64_t unprovable_repairs_seen() { return unprovable_repairs; }

shard_guard::shard_guard(shard_view& shard) : shard_(shard)
{
    if (shard_.header().lock.lock() == lock_outcome::owner_died) {
        // A process died holding this lock: the shard may be mid-update. Rebuild
        // everything derived from the chunk headers, verify, and only then let
        // anyone else in. If verification fails the lock stays inconsistent and
        // the process exits, so the supervisor escalates (DESIGN §2.6).
        shard_view& s = shard_;
        std::uint64_t dropped = 0;
        std::uint64_t const kept = s.rebuild_locked(false, dropped);
        std::string why;
        // A crash alone never leaves an unreadable committed blob (the commit
        // point comes after every write), so dropping one means the shard was
        // damaged some other way: repair cannot prove it consistent. Leave the
        // lock inconsistent and let the supervisor escalate (DESIGN §2.6).
        bool const consistent = s.check_locked(why);
        if (dropped > 0 || !consistent) {
            ++unprovable_repairs;
            RELAY_LOG_ERROR("shard %u: could not prove the repair consistent (%s)%s", shard_.header().index,
                            dropped > 0 ? (std::to_string(dropped) + " committed blobs unreadable").c_str() : why.c_str(),
                            unprovable_repair_is_fatal ? "; exiting so the supervisor rebuilds the whole store" : "");
            if (unprovable_repair_is_fatal || !consistent)
                std::_Exit(exit_code::store_poisoned);
        }
        s.header().repairs.fetch_add(1, std::memory_order_relaxed);
        RELAY_LOG_WARN("shard %u: previous lock holder died; rebuilt from chunk headers (%llu blobs kept, %llu "
                       "unreadable dropped)", shard_.header().index, static_cast<unsigned long long>(kept),
                       static_cast<unsigned long long>(dropped));
        shard_.header().lock.mark_consistent();
        repaired_ = true;
    }
}

shard_guard::~shard_guard() { shard_.header().lock.unlock(); }

} // namespace relay::shm
