// Rebuilding and verifying a shard from its chunk headers (DESIGN §2.3).
//
// Only the chunk headers in the arena are trusted. A blob exists exactly when
// its head chunk's state is `committed` and its chain of continuation chunks is
// intact; everything else (free lists, mailbox queues, quota counters, the next
// sequence number) is recomputed. This runs after a process died holding the
// shard's lock, at every start of the relay, and when allocation wants empty
// pages back.

#include <algorithm>
#include <cstring>
#include <vector>

#include "shm/fault_injection.hpp"
#include "shm/shard.hpp"

namespace relay::shm {
namespace {

constexpr std::uint64_t units_per_page = page_size >> min_chunk_shift;

bool is_key(char const (&key)[key_size])
{
    for (char c : key) {
        bool const hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            return false;
    }
    return true;
}

} // namespace

std::uint64_t shard_view::rebuild_locked(bool release_empty_pages, std::uint64_t& dropped)
{
    std::uint8_t* table = page_table();
    std::uint64_t const units = std::uint64_t{h_.page_count} * units_per_page;
    std::vector<std::uint8_t> live(units, 0);
    auto unit_of = [&](std::uint64_t off) { return (off - h_.arena_offset) >> min_chunk_shift; };

    struct head_ref {
        std::uint64_t seq;
        std::uint64_t offset;
    };
    std::vector<head_ref> heads;
    for (std::uint32_t p = 0; p < h_.page_count; ++p) {
        std::uint8_t const cls = table[p];
        if (cls >= class_count) {
            table[p] = page_unassigned;
            continue;
        }
        std::uint64_t const size = chunk_size_of_class(cls);
        for (std::uint64_t off = page_offset(p); off < page_offset(p) + page_size; off += size) {
            chunk_header const* c = chunk(off);
            if (c->size_class == cls && c->state.load(std::memory_order_acquire) ==
                                            static_cast<std::uint32_t>(chunk_state::committed))
                heads.push_back({c->seq, off});
        }
    }

    // Keep a head only if its whole chain reads back as written.
    std::uint64_t max_seq = 0;
    std::vector<head_ref> kept;
    kept.reserve(heads.size());
    for (head_ref const& hr : heads) {
        chunk_header* head = chunk(hr.offset);
        blob_meta const* m = meta(hr.offset);
        bool ok = head->sender_message_id_len <= max_sender_message_id && head->kind < blob_kind_count &&
                  is_key(m->recipient) &&
                  head->bytes_here + head_overhead + head->sender_message_id_len <= chunk_size_of_class(head->size_class);
        std::uint64_t total = 0;
        std::vector<std::uint64_t> chain;
        for (std::uint64_t off = hr.offset; ok && off != 0; off = chunk(off)->next) {
            if (!is_chunk_offset(off) || live[unit_of(off)] || chain.size() > h_.page_count) {
                ok = false;
                break;
            }
            chunk_header const* c = chunk(off);
            if (off != hr.offset &&
                (c->state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(chunk_state::continuation) ||
                 c->seq != hr.seq || c->bytes_here + sizeof(chunk_header) > chunk_size_of_class(c->size_class))) {
                ok = false;
                break;
            }
            total += c->bytes_here;
            chain.push_back(off);
        }
        ok = ok && total == m->total_bytes;
        if (!ok) {
            head->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
            ++dropped;
            continue;
        }
        for (std::uint64_t off : chain)
            live[unit_of(off)] = 1;
        max_seq = std::max(max_seq, hr.seq);
        kept.push_back(hr);
    }

    // Free lists: every chunk of an assigned page that is not live.
    std::fill(std::begin(h_.free_head), std::end(h_.free_head), 0);
    h_.chunk_bytes = 0;
    for (std::uint32_t p = 0; p < h_.page_count; ++p) {
        std::uint8_t const cls = table[p];
        if (cls >= class_count)
            continue;
        std::uint64_t const size = chunk_size_of_class(cls);
        std::uint64_t const first = page_offset(p);
        bool any_live = false;
        for (std::uint64_t off = first; off < first + page_size; off += size)
            any_live = any_live || live[unit_of(off)];
        if (!any_live && release_empty_pages) {
            table[p] = page_unassigned;
            continue;
        }
        // Walk backwards so the free list hands out low offsets first.
        for (std::uint64_t off = first + page_size - size;; off -= size) {
            if (live[unit_of(off)]) {
                h_.chunk_bytes += size;
            } else {
                chunk_header* c = chunk(off);
                c->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_relaxed);
                c->size_class = cls;
                c->flags = 0;
                c->kind = 0;
                c->bytes_here = 0;
                c->mailbox_next = 0;
                c->next = h_.free_head[cls];
                h_.free_head[cls] = off;
            }
            if (off == first)
                break;
        }
    }

    RELAY_KILL_POINT("repair.after_free_lists");
    // Mailboxes in arrival order.
    std::sort(kept.begin(), kept.end(), [](head_ref const& a, head_ref const& b) { return a.seq < b.seq; });
    std::memset(static_cast<void*>(mailboxes()), 0, sizeof(mailbox_entry) * h_.mailbox_capacity);
    h_.mailbox_used = 0;
    h_.blob_count = 0;
    std::fill(std::begin(h_.kind_count), std::end(h_.kind_count), 0);
    h_.data_bytes = 0;
    std::uint64_t kept_count = 0;
    for (head_ref const& hr : kept) {
        blob_meta const* m = meta(hr.offset);
        auto const kind = static_cast<blob_kind>(chunk(hr.offset)->kind);
        mailbox_entry* box = find_or_add_mailbox_locked(kind, std::string_view(m->recipient, key_size));
        if (box == nullptr) {
            // Cannot happen with a consistent shard (the table only ever held this
            // many mailboxes); free the chain rather than leave it unindexed.
            // check_locked() then reports the leaked chain and the process escalates.
            ++dropped;
            continue;
        }
        chunk(hr.offset)->mailbox_next = 0;
        if (box->tail == 0)
            box->head = hr.offset;
        else
            chunk(box->tail)->mailbox_next = hr.offset;
        box->tail = hr.offset;
        box->count += 1;
        box->quota_bytes += m->total_bytes + 36 + 8;
        h_.blob_count += 1;
        h_.kind_count[static_cast<std::size_t>(kind)] += 1;
        h_.data_bytes += m->total_bytes;
        ++kept_count;
    }
    h_.next_seq = std::max(h_.next_seq, max_seq + 1);
    rebuild_presence_locked();
    return kept_count;
}

void shard_view::rebuild_presence_locked()
{
    // A death in the middle of a backward shift can leave one entry twice;
    // merging with max() keeps every connection that was counted.
    std::vector<presence_entry> entries;
    presence_entry* table = presences();
    for (std::uint32_t i = 0; i < h_.presence_capacity; ++i)
        if (table[i].used)
            entries.push_back(table[i]);
    std::memset(static_cast<void*>(table), 0, sizeof(presence_entry) * h_.presence_capacity);
    h_.presence_used = 0;
    for (presence_entry const& old : entries) {
        if (old.kind != static_cast<std::uint8_t>(blob_kind::update))
            continue; // not a presence entry this binary wrote
        presence_entry* e = find_or_add_presence_locked(std::string_view(old.key, key_size));
        if (e == nullptr)
            continue;
        e->total = 0;
        for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
            e->per_slot[s] = std::max(e->per_slot[s], old.per_slot[s]);
            e->total += e->per_slot[s];
        }
        if (e->total == 0)
            erase_presence_locked(e);
    }
}

bool shard_view::check_locked(std::string& why) const
{
    auto fail = [&why](std::string text) {
        why = std::move(text);
        return false;
    };
    std::uint8_t const* table = page_table();
    std::uint64_t const units = std::uint64_t{h_.page_count} * units_per_page;
    std::vector<std::uint8_t> seen(units, 0);
    auto unit_of = [&](std::uint64_t off) { return (off - h_.arena_offset) >> min_chunk_shift; };
    auto mark = [&](std::uint64_t off) {
        if (!is_chunk_offset(off) || seen[unit_of(off)])
            return false;
        seen[unit_of(off)] = 1;
        return true;
    };

    std::uint64_t blobs = 0, data = 0, chunk_bytes = 0, boxes = 0;
    std::uint64_t per_kind[blob_kind_count] = {};
    for (std::uint32_t i = 0; i < h_.mailbox_capacity; ++i) {
        mailbox_entry const& box = mailboxes()[i];
        if (!box.used)
            continue;
        ++boxes;
        if (box.kind >= blob_kind_count)
            return fail("mailbox of an unknown kind");
        if (find_mailbox_locked(static_cast<blob_kind>(box.kind), std::string_view(box.key, key_size)) != &box)
            return fail("mailbox entry not reachable by lookup");
        std::uint64_t count = 0, quota = 0, prev_seq = 0, last = 0;
        for (std::uint64_t off = box.head; off != 0; off = chunk(off)->mailbox_next) {
            chunk_header const* c = chunk(off);
            if (c->state.load() != static_cast<std::uint32_t>(chunk_state::committed))
                return fail("mailbox links a chunk that is not a committed head");
            if (std::memcmp(meta(off)->recipient, box.key, key_size) != 0 || c->kind != box.kind)
                return fail("blob filed under the wrong mailbox");
            if (c->seq <= prev_seq || c->seq >= h_.next_seq)
                return fail("blob sequence out of order");
            prev_seq = c->seq;
            std::uint64_t total = 0;
            for (std::uint64_t part = off; part != 0; part = chunk(part)->next) {
                if (!mark(part))
                    return fail("blob chain reaches an invalid or shared chunk");
                if (part != off && (chunk(part)->state.load() != static_cast<std::uint32_t>(chunk_state::continuation) ||
                                    chunk(part)->seq != c->seq))
                    return fail("blob chain has a foreign chunk");
                total += chunk(part)->bytes_here;
                chunk_bytes += chunk_size_of_class(chunk(part)->size_class);
            }
            if (total != meta(off)->total_bytes)
                return fail("blob length disagrees with its chunks");
            ++count;
            quota += total + 36 + 8;
            data += total;
            last = off;
            if (count > h_.blob_count + 1)
                return fail("mailbox list has a cycle");
        }
        if (count == 0 || count != box.count || quota != box.quota_bytes || last != box.tail)
            return fail("mailbox counters disagree with its blobs");
        blobs += count;
        per_kind[box.kind] += count;
    }
    if (boxes != h_.mailbox_used || blobs != h_.blob_count || data != h_.data_bytes || chunk_bytes != h_.chunk_bytes)
        return fail("shard totals disagree with the mailboxes");
    for (std::size_t k = 0; k < blob_kind_count; ++k)
        if (per_kind[k] != h_.kind_count[k])
            return fail("per-kind blob counts disagree with the mailboxes");

    for (std::uint32_t cls = 0; cls < class_count; ++cls) {
        for (std::uint64_t off = h_.free_head[cls]; off != 0; off = chunk(off)->next) {
            if (!mark(off))
                return fail("free list reaches an invalid or used chunk");
            chunk_header const* c = chunk(off);
            if (c->state.load() != static_cast<std::uint32_t>(chunk_state::free) || c->size_class != cls ||
                table[unit_of(off) / units_per_page] != cls)
                return fail("free list holds a chunk of another state or class");
        }
    }
    for (std::uint32_t p = 0; p < h_.page_count; ++p) {
        if (table[p] >= class_count)
            continue;
        std::uint64_t const size = chunk_size_of_class(table[p]);
        for (std::uint64_t off = page_offset(p); off < page_offset(p) + page_size; off += size) {
            // Also catches a committed head missing from its mailbox.
            if (!seen[unit_of(off)])
                return fail("chunk neither in a listed blob nor in a free list (leak)");
        }
    }

    std::uint32_t presences_used = 0;
    for (std::uint32_t i = 0; i < h_.presence_capacity; ++i) {
        presence_entry const& e = presences()[i];
        if (!e.used)
            continue;
        ++presences_used;
        std::uint32_t total = 0;
        for (auto n : e.per_slot)
            total += n;
        if (total != e.total || total == 0)
            return fail("presence entry counts disagree");
        if (find_presence_locked(std::string_view(e.key, key_size)) != &e)
            return fail("presence entry not reachable by lookup");
    }
    if (presences_used != h_.presence_used)
        return fail("presence table size disagrees");
    return true;
}

} // namespace relay::shm
