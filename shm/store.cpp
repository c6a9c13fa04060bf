#include "shm/store.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <utility>

#include <boost/container/small_vector.hpp>

#include "shm/address_counts.hpp"
#include "shm/chunk_plan.hpp"
#include "shm/fault_injection.hpp"

namespace relay::shm {
namespace {

constexpr std::uint64_t quota_overhead = 36 + 8; // PROTOCOL §10.4: blob id length + 8

std::string_view key_view(char const (&key)[key_size]) { return {key, key_size}; }

/// True if every chunk of `plan` can be allocated now: from the free lists,
/// then from unassigned pages. Checked before allocating anything, so that a
/// plan that cannot complete never assigns a page it then leaves empty (an
/// empty assigned page is lost to other classes until a rebuild).
bool plan_fits(shard_view const& s, chunk_plan const& plan)
{
    std::array<std::uint32_t, class_count> wanted{};
    for (chunk_part const& part : plan)
        ++wanted[part.size_class];
    std::uint64_t new_pages = 0;
    for (std::uint32_t cls = 0; cls < class_count; ++cls) {
        std::uint32_t have = 0;
        for (std::uint64_t off = s.header().free_head[cls]; off != 0 && have < wanted[cls]; off = s.chunk(off)->next)
            ++have;
        std::uint64_t const per_page = page_size / chunk_size_of_class(cls);
        new_pages += (wanted[cls] - have + per_page - 1) / per_page;
    }
    std::uint8_t const* table = s.page_table();
    for (std::uint32_t p = 0; p < s.header().page_count && new_pages > 0; ++p)
        new_pages -= table[p] == page_unassigned;
    return new_pages == 0;
}

/// Allocates every chunk of `plan` (after plan_fits), all or nothing: the
/// head's offset, or 0 with nothing left allocated. `parts` receives the
/// continuation chunks in chain order.
template <class Parts>
std::uint64_t allocate_plan(shard_view& s, chunk_plan const& plan, Parts& parts)
{
    std::uint64_t const head = s.alloc_chunk_locked(plan.front().size_class);
    for (std::size_t i = 1; head != 0 && i < plan.size(); ++i) {
        std::uint64_t const off = s.alloc_chunk_locked(plan[i].size_class);
        if (off == 0) { // cannot happen after plan_fits; handled all the same
            for (std::uint64_t part : parts)
                s.free_chunk_locked(part);
            s.free_chunk_locked(head);
            parts.clear();
            return 0;
        }
        parts.push_back(off);
    }
    return head;
}

/// Records removed from a shard since it was created: every put adds one to
/// next_seq and blob_count, every removal takes one from blob_count, and a
/// rebuild never lowers next_seq. Only a removal can leave a page empty.
std::uint64_t removals(shard_header const& h) { return h.next_seq - h.blob_count; }

/// When a plan does not fit, a rebuild may reclaim pages left empty in other
/// size classes, but it scans the whole shard under its lock. It is skipped
/// when it cannot help: the shard's live chunks plus the record exceed its
/// capacity, or nothing was removed since a rebuild in this process found no
/// room (a full store otherwise made every store request into it pay a scan).
/// The marks are per process and keyed by the store's random seed.
class reclaim_gate {
public:
    bool worth_a_rebuild(std::uint64_t seed, shard_header const& h, std::uint64_t needed) const
    {
        if (h.chunk_bytes + needed > std::uint64_t{h.page_count} * page_size)
            return false;
        auto const it = futile_.find({seed, h.index});
        return it == futile_.end() || it->second != removals(h);
    }
    void futile(std::uint64_t seed, shard_header const& h) { futile_[{seed, h.index}] = removals(h); }

private:
    std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint64_t> futile_; ///< removals() after a futile rebuild
};

reclaim_gate& gate()
{
    static reclaim_gate g; // a worker is single-threaded; tests use a store from one thread at a time
    return g;
}

std::atomic<std::uint64_t> reclaim_rebuilds{0};

} // namespace

store::store(std::uint8_t* base) noexcept : base_(base) {}

std::uint64_t store::reclaim_rebuilds_in_this_process() noexcept
{
    return reclaim_rebuilds.load(std::memory_order_relaxed);
}

std::uint32_t store::shard_of(std::string_view routing_id) const noexcept
{
    // Independent of the table hash (top bits) so shards' tables stay spread.
    return static_cast<std::uint32_t>(key_hash(header().hash_seed, routing_id) >> 40) & (header().shard_count - 1);
}

shard_view store::shard(std::uint32_t index) const noexcept
{
    auto* headers = reinterpret_cast<shard_header*>(base_ + header().shards_offset);
    return shard_view(base_, headers[index], header().hash_seed);
}

worker_slot& store::slot(std::uint32_t index) const noexcept
{
    return reinterpret_cast<worker_slot*>(base_ + header().slots_offset)[index];
}

put_result store::put(put_request const& rq)
{
    put_result result;
    if (rq.recipient.size() != key_size)
        return result;
    std::uint32_t const index = shard_of(rq.recipient);
    shard_view s = shard(index);
    s.prefetch_lookups(rq.kind, rq.recipient);
    // D-7: the sender is remembered with the blob. An envelope id longer than
    // max_sender_message_id is not (documented limit: real clients send UUIDs).
    bool const has_sender = rq.sender.size() == key_size && rq.sender_message_id.size() <= max_sender_message_id;
    std::string_view const sender_id = has_sender ? rq.sender_message_id : std::string_view{};

    std::uint64_t const len = rq.data.size();
    chunk_plan const plan = plan_chunks(head_overhead + sender_id.size(), len);

    result.blob_id = random::new_uuid();
    shard_guard guard(s);
    shard_header& h = s.header();
    mailbox_entry* box = s.find_or_add_mailbox_locked(rq.kind, rq.recipient);
    if (box == nullptr)
        return result; // mailbox table full: store_full
    if ((rq.max_blobs != 0 && box->count >= rq.max_blobs) ||
        (rq.check_byte_quota && rq.max_bytes != 0 && box->quota_bytes + len > rq.max_bytes)) {
        if (box->count == 0)
            s.erase_mailbox_locked(box);
        result.status = put_status::over_quota;
        return result;
    }

    // Allocate everything before writing anything, so "full" changes nothing,
    // and only once the whole plan is known to fit. If it does not, pages left
    // empty in other classes are reclaimed once (a rebuild, when it can help)
    // and the plan is tried again.
    std::uint64_t head = 0;
    boost::container::small_vector<std::uint64_t, 8> parts; // continuation chunks, in chain order
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (plan_fits(s, plan)) {
            head = allocate_plan(s, plan, parts);
            break;
        }
        if (attempt == 1) {
            gate().futile(header().hash_seed, h);
            break;
        }
        if (!gate().worth_a_rebuild(header().hash_seed, h, chunk_bytes_of(plan)))
            break; // full: refused without a scan
        std::uint64_t dropped = 0;
        s.rebuild_locked(true, dropped); // forgets the new, still empty mailbox
        reclaim_rebuilds.fetch_add(1, std::memory_order_relaxed);
    }
    box = s.find_or_add_mailbox_locked(rq.kind, rq.recipient);
    if (head == 0 || box == nullptr) {
        if (head != 0) { // allocated, but the mailbox table is full
            for (std::uint64_t off : parts)
                s.free_chunk_locked(off);
            s.free_chunk_locked(head);
        }
        if (box != nullptr && box->count == 0)
            s.erase_mailbox_locked(box);
        return result;
    }

    RELAY_KILL_POINT("put.after_alloc");
    std::uint64_t const seq = h.next_seq++;
    // Continuation chunks first (invisible until the head commits).
    std::uint64_t const in_head = plan.front().data_bytes;
    std::uint64_t written = in_head;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        chunk_header* c = s.chunk(parts[i]);
        std::uint64_t const n = plan[i + 1].data_bytes;
        std::memcpy(reinterpret_cast<std::uint8_t*>(c) + sizeof(chunk_header), rq.data.data() + written, n);
        c->bytes_here = static_cast<std::uint32_t>(n);
        c->seq = seq;
        c->flags = 0;
        c->kind = 0;
        c->mailbox_next = 0;
        c->next = i + 1 < parts.size() ? parts[i + 1] : 0;
        c->state.store(static_cast<std::uint32_t>(chunk_state::continuation), std::memory_order_relaxed);
        written += n;
    }
    std::uint64_t const chunk_bytes = chunk_bytes_of(plan);
    RELAY_KILL_POINT("put.after_continuations");
    chunk_header* c = s.chunk(head);
    c->state.store(static_cast<std::uint32_t>(chunk_state::writing), std::memory_order_relaxed);
    c->flags = has_sender ? blob_flag_has_sender : 0;
    c->kind = static_cast<std::uint8_t>(rq.kind);
    c->sender_message_id_len = static_cast<std::uint16_t>(sender_id.size());
    c->bytes_here = static_cast<std::uint32_t>(in_head);
    c->seq = seq;
    c->next = parts.empty() ? 0 : parts.front();
    c->mailbox_next = 0;
    blob_meta* m = s.meta(head);
    std::memcpy(m->recipient, rq.recipient.data(), key_size);
    std::memset(m->sender, 0, key_size);
    if (has_sender)
        std::memcpy(m->sender, rq.sender.data(), key_size);
    std::memcpy(m->blob_id, result.blob_id.data(), 16);
    m->created_unix = rq.now;
    m->total_bytes = len;
    auto* tail_bytes = reinterpret_cast<std::uint8_t*>(m + 1);
    if (!sender_id.empty()) // memcpy from an empty view's null pointer is undefined
        std::memcpy(tail_bytes, sender_id.data(), sender_id.size());
    if (in_head != 0)
        std::memcpy(tail_bytes + sender_id.size(), rq.data.data(), in_head);
    RELAY_KILL_POINT("put.before_commit");
    // The commit point: from here on the blob exists and survives any crash.
    c->state.store(static_cast<std::uint32_t>(chunk_state::committed), std::memory_order_release);
    RELAY_KILL_POINT("put.after_commit");

    if (box->tail == 0)
        box->head = head;
    else
        s.chunk(box->tail)->mailbox_next = head;
    box->tail = head;
    box->count += 1;
    RELAY_KILL_POINT("put.quota_half_updated");
    box->quota_bytes += len + quota_overhead;
    h.blob_count += 1;
    h.kind_count[static_cast<std::size_t>(rq.kind)] += 1;
    h.data_bytes += len;
    h.chunk_bytes += chunk_bytes;
    RELAY_KILL_POINT("put.after_link");

    if (rq.replace_existing) {
        while (box->head != head)
            s.delete_blob_locked(box, 0, box->head); // the mailbox keeps the new blob, so it is never erased
    }
    if (rq.kind == blob_kind::update)
        if (presence_entry const* p = s.find_presence_locked(rq.recipient))
            result.live_slots = shard_view::slot_mask(*p);
    result.status = put_status::stored;
    result.ref = {index, rq.kind, head, seq};
    return result;
}

attach_result store::attach(std::string_view routing_id, std::uint32_t slot_index)
{
    attach_result result;
    std::uint32_t const index = shard_of(routing_id);
    shard_view s = shard(index);
    shard_guard guard(s);
    presence_entry* p = s.find_or_add_presence_locked(routing_id);
    if (p != nullptr && p->per_slot[slot_index] == UINT16_MAX)
        p = nullptr; // 65535 connections of one id on one worker: no more live push for the next
    if (p != nullptr) {
        p->per_slot[slot_index] += 1;
        p->total += 1;
        result.registered = true;
    }
    RELAY_KILL_POINT("attach.after_presence");
    if (mailbox_entry const* box = s.find_mailbox_locked(blob_kind::update, routing_id)) {
        result.pending.reserve(box->count);
        for (std::uint64_t off = box->head; off != 0; off = s.chunk(off)->mailbox_next)
            result.pending.push_back({index, blob_kind::update, off, s.chunk(off)->seq});
    }
    return result;
}

void store::detach(std::string_view routing_id, std::uint32_t slot_index)
{
    shard_view s = shard(shard_of(routing_id));
    shard_guard guard(s);
    presence_entry* p = s.find_presence_locked(routing_id);
    if (p == nullptr || p->per_slot[slot_index] == 0)
        return; // already reset (e.g. after a slot reset): nothing to undo
    p->per_slot[slot_index] -= 1;
    RELAY_KILL_POINT("detach.presence_half_updated");
    p->total -= 1;
    if (p->total == 0)
        s.erase_presence_locked(p);
}

std::uint64_t store::live_slots(std::string_view routing_id)
{
    shard_view s = shard(shard_of(routing_id));
    shard_guard guard(s);
    presence_entry const* p = s.find_presence_locked(routing_id);
    return p ? shard_view::slot_mask(*p) : 0;
}

std::optional<delivery> store::fetch(blob_ref const& ref, blob_kind kind, std::string_view key, bool first_delivery_notice)
{
    if (ref.shard >= shard_count())
        return std::nullopt;
    shard_view s = shard(ref.shard);
    shard_guard guard(s);
    if (!s.is_chunk_offset(ref.offset))
        return std::nullopt;
    chunk_header* c = s.chunk(ref.offset);
    blob_meta const* m = s.meta(ref.offset);
    if (c->state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(chunk_state::committed) ||
        c->seq != ref.seq || c->kind != static_cast<std::uint8_t>(kind) || key_view(m->recipient) != key)
        return std::nullopt;
    delivery d;
    std::memcpy(d.blob_id.data(), m->blob_id, 16);
    d.data.resize(m->total_bytes);
    auto const* tail_bytes = reinterpret_cast<std::uint8_t const*>(m + 1);
    if (c->bytes_here != 0)
        std::memcpy(d.data.data(), tail_bytes + c->sender_message_id_len, c->bytes_here);
    std::uint64_t copied = c->bytes_here;
    for (std::uint64_t off = c->next; off != 0; off = s.chunk(off)->next) {
        chunk_header const* part = s.chunk(off);
        std::memcpy(d.data.data() + copied, reinterpret_cast<std::uint8_t const*>(part) + sizeof(chunk_header),
                    part->bytes_here);
        copied += part->bytes_here;
    }
    if (first_delivery_notice && (c->flags & blob_flag_has_sender) && !(c->flags & blob_flag_delivered_sent)) {
        c->flags |= blob_flag_delivered_sent;
        d.notify_sender = true;
        d.sender.assign(m->sender, key_size);
        d.sender_message_id.assign(reinterpret_cast<char const*>(tail_bytes), c->sender_message_id_len);
    }
    return d;
}

removal store::remove(std::string_view routing_id, random::uuid const& blob_id)
{
    removal r;
    shard_view s = shard(shard_of(routing_id));
    shard_guard guard(s);
    mailbox_entry* box = s.find_mailbox_locked(blob_kind::update, routing_id);
    if (box == nullptr)
        return r;
    std::uint64_t prev = 0;
    for (std::uint64_t off = box->head; off != 0; prev = off, off = s.chunk(off)->mailbox_next) {
        blob_meta const* m = s.meta(off);
        if (std::memcmp(m->blob_id, blob_id.data(), 16) != 0)
            continue;
        chunk_header const* c = s.chunk(off);
        if (c->flags & blob_flag_has_sender) {
            r.has_sender = true;
            r.sender.assign(m->sender, key_size);
            r.sender_message_id.assign(reinterpret_cast<char const*>(m + 1), c->sender_message_id_len);
        }
        s.delete_blob_locked(box, prev, off);
        r.removed = true;
        return r;
    }
    return r;
}

std::uint64_t store::purge(blob_kind kind, std::string_view key)
{
    shard_view s = shard(shard_of(key));
    shard_guard guard(s);
    std::uint64_t deleted = 0;
    while (mailbox_entry* box = s.find_mailbox_locked(kind, key)) {
        s.delete_blob_locked(box, 0, box->head); // erases the mailbox with its last blob
        ++deleted;
    }
    return deleted;
}

std::uint64_t store::pending_count(blob_kind kind, std::string_view key)
{
    shard_view s = shard(shard_of(key));
    shard_guard guard(s);
    mailbox_entry const* box = s.find_mailbox_locked(kind, key);
    return box ? box->count : 0;
}

std::uint64_t store::expire_shard(std::uint32_t index, per_kind const& cutoff_unix, std::uint32_t budget,
                                  per_kind* expired_by_kind)
{
    shard_view s = shard(index);
    shard_guard guard(s);
    std::uint64_t deleted = 0;
    // Deleting may backward-shift table entries, so rescan from the start of a
    // probe position until a full pass finds nothing left to expire.
    for (std::uint32_t i = 0; i < s.header().mailbox_capacity && deleted < budget;) {
        mailbox_entry* box = &s.mailboxes()[i];
        if (!box->used || box->kind >= blob_kind_count || s.meta(box->head)->created_unix > cutoff_unix[box->kind]) {
            ++i;
            continue;
        }
        RELAY_KILL_POINT("expire.before_delete");
        if (expired_by_kind)
            (*expired_by_kind)[box->kind] += 1;
        s.delete_blob_locked(box, 0, box->head);
        ++deleted;
        RELAY_KILL_POINT("expire.after_delete");
        // Stay on i: the same mailbox (or an entry shifted into it) is checked again.
    }
    return deleted;
}

void store::recover_shards()
{
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
    }
}

void store::reset_slot(std::uint32_t slot_index)
{
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
        for (std::uint32_t e = 0; e < s.header().presence_capacity;) {
            presence_entry* p = &s.presences()[e];
            if (!p->used || p->per_slot[slot_index] == 0) {
                ++e;
                continue;
            }
            p->total -= p->per_slot[slot_index];
            p->per_slot[slot_index] = 0;
            if (p->total == 0)
                s.erase_presence_locked(p); // may shift another entry into e: look again
            else
                ++e;
        }
    }
    slot(slot_index).connections.store(0, std::memory_order_relaxed);
    address_counts::reset_slot(base_, header(), slot_index);
}

store::rebuild_stats store::rebuild_all(std::function<void(std::uint32_t, std::uint32_t)> const& progress)
{
    rebuild_stats stats;
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
        stats.kept += s.rebuild_locked(true, stats.dropped);
        if (progress)
            progress(i + 1, shard_count());
    }
    return stats;
}

bool store::check_all(std::string& why)
{
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
        if (!s.check_locked(why)) {
            why = "shard " + std::to_string(i) + ": " + why;
            return false;
        }
    }
    return true;
}

void store::reinit_locks()
{
    for (std::uint32_t i = 0; i < shard_count(); ++i)
        shard(i).header().lock.init();
}

store_totals store::totals() const
{
    store_totals t;
    t.arena_bytes = header().arena_bytes;
    // Unlocked reads of plain counters: a snapshot for health and metrics, where
    // a value off by one in-flight update is fine.
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_header const& h = shard(i).header();
        t.blobs += __atomic_load_n(&h.blob_count, __ATOMIC_RELAXED);
        for (std::size_t k = 0; k < blob_kind_count; ++k)
            t.by_kind[k] += __atomic_load_n(&h.kind_count[k], __ATOMIC_RELAXED);
        t.data_bytes += __atomic_load_n(&h.data_bytes, __ATOMIC_RELAXED);
        t.chunk_bytes += __atomic_load_n(&h.chunk_bytes, __ATOMIC_RELAXED);
        t.repairs += h.repairs.load(std::memory_order_relaxed);
    }
    return t;
}

} // namespace relay::shm
