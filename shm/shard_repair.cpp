// Rebuilding and verifying a shard from its chunk headers (docs/store.md,
// "Recovery").
//
// The records in the arena are the truth. A record exists exactly when its
// head chunk is `committed`, every chunk of its chain carries its page's
// identity, and its checksum verifies; everything else (free bitmaps, partial
// page lists, mailboxes and their anchors, counters, the next sequence number)
// is recomputed. This runs after a process died holding the shard's lock and,
// for every shard, at every start of the relay.

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/fault_injection.hpp"
#include "shm/record_crc.hpp"
#include "shm/shard.hpp"

namespace relay::shm {
namespace {

bool is_key(char const (&key)[key_size])
{
    for (char c : key) {
        bool const hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            return false;
    }
    return true;
}

using page_bits = std::array<std::uint64_t, max_chunks_per_page / 64>;

/// Which chunks of the shard's pages are taken (by a record or a live reservation).
class live_map {
public:
    live_map(page_pool const& pool, std::uint64_t arena_offset)
        : pool_(pool), arena_(arena_offset), bits_(pool.page_count())
    {
    }
    bool test(std::uint64_t off) const
    {
        auto [p, i] = locate(off);
        return (bits_[p][i / 64] >> (i % 64)) & 1;
    }
    void set(std::uint64_t off)
    {
        auto [p, i] = locate(off);
        bits_[p][i / 64] |= std::uint64_t{1} << (i % 64);
    }
    page_bits const& page(std::uint32_t p) const { return bits_[p]; }

private:
    std::pair<std::uint32_t, std::uint32_t> locate(std::uint64_t off) const
    {
        std::uint32_t const p = static_cast<std::uint32_t>((off - arena_) / page_size);
        std::uint64_t const size = chunk_size_of_class(pool_.desc(p).size_class);
        return {p, static_cast<std::uint32_t>((off - arena_ - std::uint64_t{p} * page_size) / size)};
    }
    page_pool const& pool_;
    std::uint64_t arena_;
    std::vector<page_bits> bits_;
};

} // namespace

std::uint64_t shard_view::rebuild_stats::dropped_total() const noexcept
{
    std::uint64_t n = 0;
    for (auto d : dropped)
        n += d;
    return n;
}

namespace {
bool unprovable_repair_is_fatal = true;
std::uint64_t unprovable_repairs = 0;
} // namespace

void set_unprovable_repair_fatal(bool fatal) { unprovable_repair_is_fatal = fatal; }
std::uint64_t unprovable_repairs_seen() { return unprovable_repairs; }

void shard_view::repair_after_owner_died_locked()
{
    // A process died holding this lock: the shard may be mid-update. Rebuild
    // everything derived from the chunk headers, verify, and only then let
    // anyone else in.
    auto const rebuilt = rebuild_locked();
    auto const checked = check_locked();
    // A crash alone never leaves a committed record that does not read back
    // (the commit point comes after every write), so dropping one means the
    // shard was damaged some other way: the repair is not proven.
    std::uint64_t const dropped = rebuilt.dropped_total();
    if (dropped > 0 || !checked.consistent) {
        ++unprovable_repairs;
        RELAY_LOG_ERROR("shard %u: could not prove the repair consistent (%s)%s", h_.index,
                        dropped > 0 ? (std::to_string(dropped) + " committed records did not read back").c_str()
                                    : checked.problem.c_str(),
                        unprovable_repair_is_fatal ? "; exiting so the supervisor rebuilds the whole store"
                                                   : "; the supervisor rebuilds the whole store");
        if (unprovable_repair_is_fatal)
            std::_Exit(exit_code::store_poisoned);
        // The supervisor goes on: it stops every child and rebuilds the whole
        // store right after this repair (docs/store.md, "Recovery").
    }
    h_.repairs.fetch_add(1, std::memory_order_relaxed);
    RELAY_LOG_WARN("shard %u: previous lock holder died; rebuilt from chunk headers (%llu records kept, %llu "
                   "dropped)",
                   h_.index, static_cast<unsigned long long>(rebuilt.kept), static_cast<unsigned long long>(dropped));
}

shard_view::rebuild_stats shard_view::rebuild_locked()
{
    rebuild_stats stats;
    page_pool pool = this->pool();
    store_header& sh = store();
    live_map live(pool, arena_offset_);

    // 1. The shard's pages and the committed heads on them.
    struct head_ref {
        std::uint64_t seq;
        std::uint64_t offset;
        bool retired;
    };
    std::vector<head_ref> heads;
    std::vector<std::uint32_t> pages;
    for (std::uint32_t p = 0; p < page_count_; ++p) {
        page_desc const& d = pool.desc(p);
        if (d.owner != h_.index)
            continue;
        pages.push_back(p);
        if (d.size_class >= class_count)
            continue; // cannot happen: owners and classes are written together
        std::uint64_t const size = chunk_size_of_class(d.size_class);
        for (std::uint64_t off = pool.page_offset(p); off < pool.page_offset(p) + page_size; off += size)
            if (has_page_identity(off) &&
                chunk(off)->state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(chunk_state::committed))
                heads.push_back(
                    {chunk(off)->seq, off,
                     (chunk(off)->delivery_flags.load(std::memory_order_relaxed) & delivery_flag_retired) != 0});
    }
    // A record compaction moved can have two committed copies (shard_compaction.cpp):
    // they sort together, the live one first, and only the first that reads back stays.
    std::sort(heads.begin(), heads.end(), [](head_ref const& a, head_ref const& b) {
        return a.seq != b.seq ? a.seq < b.seq : a.retired != b.retired ? !a.retired : a.offset < b.offset;
    });
    h_.retired_head = 0;
    h_.retired_count = 0;

    // 2. Chunks of records still being written by live processes (between
    //    the two lock holds of a put): kept, neither free nor in a mailbox.
    std::uint64_t max_seq = 0;
    auto* slots = reinterpret_cast<worker_slot*>(base_ + sh.slots_offset);
    for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
        std::uint64_t const head = live_reservation(slots[s]);
        if (head == 0)
            continue;
        std::uint32_t n = 0;
        for (std::uint64_t off = head; off != 0 && n < page_count_ * max_chunks_per_page; off = chunk(off)->next, ++n) {
            if (!is_own_chunk(off) || live.test(off))
                break;
            live.set(off);
        }
        max_seq = std::max(max_seq, chunk(head)->seq);
    }

    // 3. Keep a head only if its whole chain reads back as written.
    std::vector<std::uint8_t> scratch;
    std::vector<head_ref> kept;
    kept.reserve(heads.size());
    for (head_ref const& hr : heads) {
        chunk_header* head = chunk(hr.offset);
        blob_meta const* m = meta(hr.offset);
        if (!kept.empty() && kept.back().seq == hr.seq &&
            std::memcmp(meta(kept.back().offset)->blob_id, m->blob_id, sizeof m->blob_id) == 0) {
            head->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
            stats.copies += 1;
            continue;
        }
        bool ok = head->sender_message_id_len <= max_sender_message_id && head->kind < blob_kind_count &&
            is_key(m->recipient) && shard_of_key(sh, std::string_view(m->recipient, key_size)) == h_.index &&
            m->total_bytes <= std::uint64_t{page_count_} * page_size && !live.test(hr.offset);
        std::vector<std::uint64_t> chain;
        for (std::uint64_t off = hr.offset; ok && off != 0; off = chunk(off)->next) {
            if (!is_own_chunk(off) || live.test(off) || !has_page_identity(off) || chain.size() > page_count_) {
                ok = false;
                break;
            }
            if (off != hr.offset &&
                (chunk(off)->state.load() != static_cast<std::uint32_t>(chunk_state::continuation) ||
                 chunk(off)->seq != hr.seq)) {
                ok = false;
                break;
            }
            chain.push_back(off);
        }
        drop_reason why = drop_reason::structure;
        if (ok) {
            scratch.resize(m->total_bytes);
            ok = read_record_locked(hr.offset, scratch.data());
            // The chain is sound, so a mismatch is in the bytes.
            why = drop_reason::checksum;
        }
        if (!ok) {
            head->state.store(static_cast<std::uint32_t>(chunk_state::free), std::memory_order_release);
            stats.dropped[static_cast<std::size_t>(why)] += 1;
            continue;
        }
        for (std::uint64_t off : chain)
            live.set(off);
        head->delivery_flags.fetch_and(static_cast<std::uint8_t>(~delivery_flag_retired), std::memory_order_relaxed);
        max_seq = std::max(max_seq, hr.seq);
        kept.push_back(hr);
    }
    for (std::size_t r = 0; r < drop_reason_count; ++r)
        if (stats.dropped[r] != 0)
            count_dropped(sh, static_cast<drop_reason>(r), stats.dropped[r]);

    // 4. Free bitmaps and partial lists; pages without a live chunk go back
    //    to the pool.
    std::fill(std::begin(h_.partial_head), std::end(h_.partial_head), no_page);
    std::fill(std::begin(h_.pages_of_class), std::end(h_.pages_of_class), 0);
    h_.chunk_bytes = 0;
    for (std::uint32_t p : pages) {
        page_desc& d = pool.desc(p);
        d.prev = d.next = no_page;
        d.on_list = 0;
        std::uint32_t const n = d.size_class < class_count ? chunks_per_page(d.size_class) : 0;
        std::uint32_t free_count = 0;
        std::memset(d.free_bits, 0, sizeof d.free_bits);
        for (std::uint32_t i = 0; i < n; ++i) {
            if ((live.page(p)[i / 64] >> (i % 64)) & 1)
                continue;
            d.free_bits[i / 64] |= std::uint64_t{1} << (i % 64);
            ++free_count;
        }
        d.free_count = static_cast<std::uint16_t>(free_count);
        if (free_count == n) {
            pool.give_back(p);
            continue;
        }
        h_.pages_of_class[d.size_class] += 1;
        if (free_count > 0)
            push_partial_locked(p);
    }

    RELAY_KILL_POINT("repair.after_free_lists");
    // 5. Mailboxes in arrival order.
    std::memset(buckets(), 0, sizeof(std::uint64_t) * h_.buckets);
    h_.mailbox_count = 0;
    h_.blob_count = 0;
    std::fill(std::begin(h_.kind_count), std::end(h_.kind_count), 0);
    h_.data_bytes = 0;
    for (head_ref const& hr : kept)
        append_locked(hr.offset);
    stats.kept = kept.size();
    h_.next_seq = std::max(h_.next_seq, max_seq + 1);
    return stats;
}

check_result shard_view::check_locked(verify_depth depth) const
{
    auto fail = [](std::string text) { return check_result::failure(std::move(text)); };
    page_pool pool = this->pool();
    store_header const& sh = store();
    live_map seen(pool, arena_offset_);
    auto mark = [&](std::uint64_t off) {
        if (!is_own_chunk(off) || seen.test(off))
            return false;
        seen.set(off);
        return true;
    };

    // Reservations of live writers hold chunks outside every mailbox.
    auto const* slots = reinterpret_cast<worker_slot const*>(base_ + sh.slots_offset);
    for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
        std::uint64_t const head = live_reservation(slots[s]);
        if (head == 0)
            continue;
        std::uint32_t n = 0;
        for (std::uint64_t off = head; off != 0 && n < page_count_ * max_chunks_per_page; off = chunk(off)->next, ++n)
            if (!mark(off))
                return fail("a reservation reaches an invalid or shared chunk");
    }

    // Retired copies of moved records hold their chunks until the release;
    // their pages may be off every list meanwhile.
    std::vector<std::uint8_t> holds_retired(page_count_, 0);
    std::uint64_t retired = 0;
    for (std::uint64_t head = h_.retired_head; head != 0; head = chunk(head)->mailbox_next) {
        if (++retired > h_.retired_count || !is_own_chunk(head) ||
            chunk(head)->state.load() != static_cast<std::uint32_t>(chunk_state::committed) ||
            !(chunk(head)->delivery_flags.load() & delivery_flag_retired))
            return fail("the list of retired copies is broken");
        std::uint32_t n = 0;
        for (std::uint64_t off = head; off != 0 && n < page_count_ * max_chunks_per_page; off = chunk(off)->next, ++n) {
            if (!mark(off))
                return fail("a retired copy reaches an invalid or shared chunk");
            holds_retired[pool.page_of(off)] = 1;
        }
    }
    if (retired != h_.retired_count)
        return fail("the count of retired copies disagrees with their list");

    std::uint64_t blobs = 0, data = 0, chunk_bytes = 0, boxes = 0;
    std::uint64_t per_kind[blob_kind_count] = {};
    std::vector<std::uint8_t> scratch;
    for (std::uint32_t b = 0; b < h_.buckets; ++b) {
        std::uint64_t steps = 0;
        for (std::uint64_t a = buckets()[b]; a != 0; a = anchor(a).bucket_next) {
            if (++steps > h_.mailbox_count)
                return fail("a mailbox bucket holds more anchors than there are mailboxes (cycle)");
            if (!is_own_chunk(a) || chunk(a)->kind >= blob_kind_count)
                return fail("a mailbox bucket links an invalid chunk");
            ++boxes;
            auto const kind = static_cast<blob_kind>(chunk(a)->kind);
            if (find_mailbox_locked(kind, std::string_view(meta(a)->recipient, key_size)) != a)
                return fail("mailbox anchor not reachable by lookup");
            mailbox_anchor const& box = anchor(a);
            std::uint64_t count = 0, quota = 0, prev_seq = 0, last = 0;
            for (std::uint64_t off = a; off != 0; off = chunk(off)->mailbox_next) {
                if (!is_own_chunk(off))
                    return fail("a mailbox links a chunk outside the shard");
                chunk_header const* c = chunk(off);
                if (!is_live_head(off) || !has_page_identity(off))
                    return fail("a mailbox links a chunk that is not a committed head");
                if (std::memcmp(meta(off)->recipient, meta(a)->recipient, key_size) != 0 || c->kind != chunk(a)->kind)
                    return fail("a record is filed under the wrong mailbox");
                if (c->seq <= prev_seq || c->seq >= h_.next_seq)
                    return fail("record sequence out of order");
                prev_seq = c->seq;
                std::uint64_t total = 0;
                for (std::uint64_t part = off; part != 0; part = chunk(part)->next) {
                    if (!mark(part))
                        return fail("a record's chain reaches an invalid or shared chunk");
                    if (part != off &&
                        (chunk(part)->state.load() != static_cast<std::uint32_t>(chunk_state::continuation) ||
                         chunk(part)->seq != c->seq || !has_page_identity(part)))
                        return fail("a record's chain has a foreign chunk");
                    total += chunk(part)->bytes_here;
                    chunk_bytes += chunk_size_of_class(chunk(part)->size_class);
                }
                if (total != meta(off)->total_bytes)
                    return fail("a record's length disagrees with its chunks");
                if (depth == verify_depth::checksums) {
                    scratch.resize(total);
                    if (!read_record_locked(off, scratch.data()))
                        return fail("a record's checksum does not verify");
                }
                ++count;
                quota += total + quota_overhead_per_blob;
                data += total;
                last = off;
                if (count > h_.blob_count)
                    return fail("a mailbox list has a cycle");
            }
            if (count != box.count || quota != box.quota_bytes || last != box.tail)
                return fail("mailbox counters disagree with its records");
            blobs += count;
            per_kind[static_cast<std::size_t>(kind)] += count;
        }
    }
    if (boxes != h_.mailbox_count || blobs != h_.blob_count || data != h_.data_bytes || chunk_bytes != h_.chunk_bytes)
        return fail("shard totals disagree with the mailboxes");
    for (std::size_t k = 0; k < blob_kind_count; ++k)
        if (per_kind[k] != h_.kind_count[k])
            return fail("per-kind record counts disagree with the mailboxes");

    // Pages: every chunk is either taken or marked free, never both, and the
    // partial lists hold exactly the pages with a free chunk.
    std::uint32_t pages_by_class[class_count] = {};
    std::uint32_t partial_pages = 0;
    for (std::uint32_t p = 0; p < page_count_; ++p) {
        page_desc const& d = pool.desc(p);
        if (d.owner != h_.index)
            continue;
        if (d.size_class >= class_count)
            return fail("a page of the shard has no class");
        std::uint32_t const n = chunks_per_page(d.size_class);
        std::uint32_t free_count = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            bool const is_free = (d.free_bits[i / 64] >> (i % 64)) & 1;
            bool const taken = (seen.page(p)[i / 64] >> (i % 64)) & 1;
            if (is_free == taken)
                return fail(taken ? "a chunk in use is marked free" : "a chunk neither in use nor free (leak)");
            free_count += is_free;
        }
        if (free_count != d.free_count)
            return fail("a page's free count disagrees with its bitmap");
        if (free_count == n)
            return fail("an empty page was not given back to the pool");
        if (free_count == 0 ? d.on_list != 0 : d.on_list == 0 && !holds_retired[p])
            return fail("a page with free chunks is missing from its partial list, or a full one is on it");
        partial_pages += d.on_list != 0;
        pages_by_class[d.size_class] += 1;
    }
    std::uint32_t listed = 0;
    for (std::uint32_t cls = 0; cls < class_count; ++cls) {
        if (pages_by_class[cls] != h_.pages_of_class[cls])
            return fail("pages per class disagree with the page descriptors");
        std::uint32_t prev = no_page;
        for (std::uint32_t p = h_.partial_head[cls]; p != no_page; prev = p, p = pool.desc(p).next) {
            if (p >= page_count_ || pool.desc(p).owner != h_.index || pool.desc(p).size_class != cls ||
                pool.desc(p).prev != prev || ++listed > partial_pages)
                return fail("a partial page list is broken");
        }
    }
    if (listed != partial_pages)
        return fail("a partial page list misses a page");

    return {};
}

} // namespace relay::shm
