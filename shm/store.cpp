#include "shm/store.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <utility>

#include <boost/container/small_vector.hpp>

#include "common/log.hpp"
#include "shm/address_counts.hpp"
#include "shm/chunk_plan.hpp"
#include "shm/fault_injection.hpp"
#include "shm/page_pool.hpp"
#include "shm/presence_table.hpp"
#include "shm/rate_limiter.hpp"
#include "shm/record_crc.hpp"

namespace relay::shm {
namespace {

std::string_view key_view(char const (&key)[key_size]) { return {key, key_size}; }

using chunk_list = boost::container::small_vector<std::uint64_t, 8>; // head first, then continuations

/// The record as put() prepares it outside any lock: its head fields (with
/// the checksum), its metadata and its plan.
struct prepared_record {
    chunk_header head{};
    blob_meta meta{};
    chunk_plan plan;
    std::string_view sender_message_id;

    /// Phase 1 (outside any lock): the head fields, the metadata, the
    /// checksum over both and the payload, and how the record is cut into
    /// chunks.
    prepared_record(put_request const& rq, random::uuid const& blob_id, std::uint64_t crc_seed)
    {
        // D-7: the sender is remembered with the record. An envelope id longer
        // than max_sender_message_id is not (documented limit: real clients
        // send UUIDs).
        bool const has_sender = rq.sender.size() == key_size && rq.sender_message_id.size() <= max_sender_message_id;
        sender_message_id = has_sender ? rq.sender_message_id : std::string_view{};
        plan = plan_chunks(head_overhead + sender_message_id.size(), rq.data.size());
        head.kind = static_cast<std::uint8_t>(rq.kind);
        head.record_flags = has_sender ? record_flag_has_sender : 0;
        head.sender_message_id_len = static_cast<std::uint16_t>(sender_message_id.size());
        std::memcpy(meta.recipient, rq.recipient.data(), key_size);
        if (has_sender)
            std::memcpy(meta.sender, rq.sender.data(), key_size);
        std::memcpy(meta.blob_id, blob_id.data(), sizeof meta.blob_id);
        meta.created_unix = rq.now;
        meta.total_bytes = rq.data.size();
        record_checksum crc(crc_seed, head, meta);
        crc.add(sender_message_id.data(), sender_message_id.size());
        crc.add(rq.data);
        head.record_crc = crc.value();
    }
};

bool within_quota(shard_view const& s, put_request const& rq, std::uint64_t anchor)
{
    std::uint64_t const count = anchor ? s.anchor(anchor).count : 0;
    std::uint64_t const bytes = anchor ? s.anchor(anchor).quota_bytes : 0;
    return !(rq.max_blobs != 0 && count >= rq.max_blobs) &&
        !(rq.check_byte_quota && rq.max_bytes != 0 && bytes + rq.data.size() > rq.max_bytes);
}

void refuse(store_header& h, refusal_reason why)
{
    h.refusals[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
}

/// Phase 2 (under the lock): allocates every chunk and writes their headers;
/// all or nothing.
put_status reserve_locked(shard_view& s, put_request const& rq, prepared_record const& r, chunk_list& chunks,
                          std::uint64_t& seq)
{
    if (!within_quota(s, rq, s.find_mailbox_locked(rq.kind, rq.recipient))) {
        refuse(s.store(), refusal_reason::quota);
        return put_status::over_quota;
    }
    for (chunk_part const& part : r.plan) {
        std::uint64_t const off = s.alloc_chunk_locked(part.size_class);
        if (off == 0) {
            for (std::uint64_t taken : chunks)
                s.free_chunk_locked(taken);
            chunks.clear();
            refuse(s.store(), refusal_reason::capacity);
            return put_status::store_full;
        }
        chunks.push_back(off);
    }
    RELAY_KILL_POINT("put.after_alloc");
    seq = s.header().next_seq++;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        chunk_header* c = s.chunk(chunks[i]);
        std::uint64_t const next = i + 1 < chunks.size() ? chunks[i + 1] : 0;
        if (i == 0) {
            c->kind = r.head.kind;
            c->sender_message_id_len = r.head.sender_message_id_len;
            c->record_crc = r.head.record_crc;
            c->record_flags = r.head.record_flags;
            c->delivery_flags.store(rq.delivered_sent ? delivery_flag_delivered_sent : 0, std::memory_order_relaxed);
        } else {
            c->kind = 0;
            c->sender_message_id_len = 0;
            c->record_crc = 0;
            c->record_flags = 0;
        }
        c->bytes_here = static_cast<std::uint32_t>(r.plan[i].data_bytes);
        c->seq = seq;
        c->next = next;
        c->mailbox_next = 0;
        c->state.store(static_cast<std::uint32_t>(i == 0 ? chunk_state::reserved : chunk_state::continuation),
                       std::memory_order_release);
    }
    return put_status::stored;
}

/// Phase 3 (outside the lock, or under it for a process without a slot):
/// the metadata and every payload byte, into chunks nothing links yet.
void write_payload(shard_view const& s, put_request const& rq, prepared_record const& r, chunk_list const& chunks)
{
    std::uint64_t const head = chunks.front();
    std::memcpy(static_cast<void*>(s.meta(head)), &r.meta, sizeof(blob_meta));
    std::uint8_t* tail = s.head_tail(head);
    if (!r.sender_message_id.empty()) // memcpy from an empty view's null pointer is undefined
        std::memcpy(tail, r.sender_message_id.data(), r.sender_message_id.size());
    std::uint64_t written = r.plan.front().data_bytes;
    if (written != 0)
        std::memcpy(tail + r.sender_message_id.size(), rq.data.data(), written);
    for (std::size_t i = 1; i < chunks.size(); ++i) {
        std::uint64_t const n = r.plan[i].data_bytes;
        std::memcpy(reinterpret_cast<std::uint8_t*>(s.chunk(chunks[i])) + sizeof(chunk_header),
                    rq.data.data() + written, n);
        written += n;
    }
}

} // namespace

store::store(std::uint8_t* base, std::uint32_t writer_slot) noexcept : base_(base), writer_slot_(writer_slot) {}

std::uint32_t store::shard_of(std::string_view routing_id) const noexcept { return shard_of_key(header(), routing_id); }

shard_view store::shard(std::uint32_t index) const noexcept
{
    auto* headers = reinterpret_cast<shard_header*>(base_ + header().shards_offset);
    return shard_view(base_, headers[index]);
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
    if (rq.kind == blob_kind::update)
        presence_table(base_).prefetch(rq.recipient);

    // Phase 1, outside any lock: everything about the record but where it goes.
    result.blob_id = rq.preset_blob_id ? *rq.preset_blob_id : random::new_uuid();
    prepared_record const r(rq, result.blob_id, header().crc_seed);

    chunk_list chunks;
    std::uint64_t seq = 0; // provisional until the commit (commit_locked)
    if (writer_slot_ == no_writer_slot) {
        shard_guard guard(s);
        result.status = reserve_locked(s, rq, r, chunks, seq);
        if (result.status != put_status::stored)
            return result;
        write_payload(s, rq, r, chunks);
        result.status = commit_locked(s, rq, chunks.front(), seq, result);
    } else {
        worker_slot& ws = slot(writer_slot_);
        {
            shard_guard guard(s);
            result.status = reserve_locked(s, rq, r, chunks, seq);
            if (result.status != put_status::stored)
                return result;
            // Recorded before the lock is released: a repair of this shard
            // keeps these chunks while this process writes into them.
            ws.reserved_shard.store(index, std::memory_order_relaxed);
            ws.reserved_seq.store(seq, std::memory_order_relaxed);
            ws.reserved_head.store(chunks.front(), std::memory_order_release);
        }
        RELAY_KILL_POINT("put.after_reserve");
        write_payload(s, rq, r, chunks);
        RELAY_KILL_POINT("put.after_write");
        shard_guard guard(s);
        result.status = commit_locked(s, rq, chunks.front(), seq, result);
        ws.reserved_head.store(0, std::memory_order_release);
    }
    return result;
}

put_status store::commit_locked(shard_view& s, put_request const& rq, std::uint64_t head, std::uint64_t seq,
                                put_result& result)
{
    chunk_header* c = s.chunk(head);
    if (c->state.load() != static_cast<std::uint32_t>(chunk_state::reserved) || c->seq != seq) {
        // Cannot happen while this process lives (repair keeps reservations).
        RELAY_LOG_ERROR("shard %u: a reserved record was taken away before its commit; refusing the store",
                        s.header().index);
        return put_status::store_full;
    }
    // Another store to the same mailbox may have committed since the check
    // in phase 2; the lookup also serves the append below.
    std::uint64_t const anchor = s.find_mailbox_locked(rq.kind, rq.recipient);
    if (!within_quota(s, rq, anchor)) {
        s.free_chain_locked(head);
        refuse(s.store(), refusal_reason::quota);
        return put_status::over_quota;
    }
    // Mailboxes are in commit order, and repair orders them by sequence: a
    // record takes its final number now (another put may have reserved later
    // and committed first), in every chunk of its chain.
    std::uint64_t const final_seq = s.header().next_seq++;
    for (std::uint64_t off = head; off != 0; off = s.chunk(off)->next)
        s.chunk(off)->seq = final_seq;
    RELAY_KILL_POINT("put.before_commit");
    // The commit point: from here on the record exists and survives any crash.
    c->state.store(static_cast<std::uint32_t>(chunk_state::committed), std::memory_order_release);
    RELAY_KILL_POINT("put.after_commit");
    s.append_locked(head, anchor);
    RELAY_KILL_POINT("put.after_link");
    if (rq.replace_existing) {
        // The mailbox keeps the new record, so it is never erased.
        for (std::uint64_t a = s.find_mailbox_locked(rq.kind, rq.recipient); a != 0 && a != head;
             a = s.find_mailbox_locked(rq.kind, rq.recipient))
            s.delete_record_locked(a, 0, a);
    }
    if (rq.kind == blob_kind::update) {
        presence_table presence(base_);
        presence_guard pg(presence);
        if (presence_entry const* p = presence.find_locked(rq.recipient))
            result.live_slots = presence_table::slot_mask(*p);
    }
    result.ref = {s.header().index, rq.kind, head, final_seq};
    return put_status::stored;
}

put_status store::import_record(stored_record const& record)
{
    put_request rq;
    rq.kind = record.kind;
    rq.recipient = record.key;
    rq.data = record.data;
    rq.sender = record.sender;
    rq.sender_message_id = record.sender_message_id;
    rq.now = record.created_unix;
    rq.check_byte_quota = false;
    rq.preset_blob_id = &record.blob_id;
    rq.delivered_sent = record.delivered_sent;
    return put(rq).status;
}

void store::for_each_record(std::function<void(stored_record const&)> const& sink)
{
    // Every lock, in shard order (the only order any process takes two).
    std::vector<shard_view> views;
    std::vector<std::unique_ptr<shard_guard>> guards;
    views.reserve(shard_count());
    for (std::uint32_t i = 0; i < shard_count(); ++i)
        views.push_back(shard(i));
    for (shard_view& s : views)
        guards.push_back(std::make_unique<shard_guard>(s));
    stored_record r;
    for (shard_view& s : views) {
        for (std::uint32_t b = 0; b < s.header().buckets; ++b) {
            for (std::uint64_t a = s.buckets()[b]; a != 0; a = s.anchor(a).bucket_next) {
                for (std::uint64_t off = a; off != 0; off = s.chunk(off)->mailbox_next) {
                    chunk_header const* c = s.chunk(off);
                    blob_meta const* m = s.meta(off);
                    r.data.resize(m->total_bytes);
                    if (!s.read_record_locked(off, r.data.data()))
                        continue; // damaged: never exported; a delivery would drop it
                    r.kind = static_cast<blob_kind>(c->kind);
                    r.key.assign(m->recipient, key_size);
                    bool const has_sender = c->record_flags & record_flag_has_sender;
                    r.sender.assign(has_sender ? std::string_view(m->sender, key_size) : std::string_view{});
                    r.sender_message_id.assign(reinterpret_cast<char const*>(s.head_tail(off)),
                                               has_sender ? c->sender_message_id_len : 0);
                    std::memcpy(r.blob_id.data(), m->blob_id, 16);
                    r.created_unix = m->created_unix;
                    r.delivered_sent = c->delivery_flags.load() & delivery_flag_delivered_sent;
                    sink(r);
                }
            }
        }
    }
}

attach_result store::attach(std::string_view routing_id, std::uint32_t slot_index, std::uint64_t after_seq)
{
    attach_result result;
    std::uint32_t const index = shard_of(routing_id);
    shard_view s = shard(index);
    shard_guard guard(s);
    {
        presence_table presence(base_);
        presence_guard pg(presence);
        presence_entry* p = presence.find_or_add_locked(routing_id);
        if (p != nullptr && p->per_slot[slot_index] == UINT16_MAX)
            p = nullptr; // 65535 connections of one id on one worker: no more live push for the next
        if (p != nullptr) {
            p->per_slot[slot_index] += 1;
            p->total += 1;
            result.registered = true;
        }
        RELAY_KILL_POINT("attach.after_presence");
    }
    list_mailbox_locked(s, index, routing_id, after_seq, result);
    return result;
}

mailbox_listing store::list_after(std::string_view routing_id, std::uint64_t after_seq)
{
    mailbox_listing result;
    std::uint32_t const index = shard_of(routing_id);
    shard_view s = shard(index);
    shard_guard guard(s);
    list_mailbox_locked(s, index, routing_id, after_seq, result);
    return result;
}

void store::list_mailbox_locked(shard_view& s, std::uint32_t index, std::string_view routing_id,
                                std::uint64_t after_seq, mailbox_listing& out)
{
    out.through_seq = s.header().next_seq - 1;
    std::uint64_t const a = s.find_mailbox_locked(blob_kind::update, routing_id);
    if (a == 0)
        return;
    if (after_seq == 0)
        out.pending.reserve(s.anchor(a).count);
    // A mailbox is in commit order, so its sequence numbers rise.
    for (std::uint64_t off = a; off != 0; off = s.chunk(off)->mailbox_next)
        if (s.chunk(off)->seq > after_seq)
            out.pending.push_back({index, blob_kind::update, off, s.chunk(off)->seq});
}

void store::detach(std::string_view routing_id, std::uint32_t slot_index)
{
    shard_view s = shard(shard_of(routing_id));
    shard_guard guard(s);
    presence_table presence(base_);
    presence_guard pg(presence);
    presence_entry* p = presence.find_locked(routing_id);
    if (p == nullptr || p->per_slot[slot_index] == 0)
        return; // already reset (e.g. after a slot reset): nothing to undo
    p->per_slot[slot_index] -= 1;
    RELAY_KILL_POINT("detach.presence_half_updated");
    p->total -= 1;
    if (p->total == 0)
        presence.erase_locked(p);
}

std::uint64_t store::live_slots(std::string_view routing_id)
{
    presence_table presence(base_);
    presence_guard pg(presence);
    presence_entry const* p = presence.find_locked(routing_id);
    return p ? presence_table::slot_mask(*p) : 0;
}

namespace {
/// The head of the record `ref` names in `s`, wherever compaction moved it; 0 if gone.
std::uint64_t locate_locked(shard_view& s, blob_ref const& ref, blob_kind kind, std::string_view key)
{
    std::uint64_t const head = ref.offset;
    if (s.is_own_chunk(head) && s.is_live_head(head) && s.chunk(head)->seq == ref.seq &&
        s.chunk(head)->kind == static_cast<std::uint8_t>(kind) && key_view(s.meta(head)->recipient) == key)
        return head;
    return s.find_record_locked(kind, key, ref.seq); // moved by compaction since the reference was taken, or gone
}
} // namespace

std::optional<delivery> store::fetch(blob_ref const& ref, blob_kind kind, std::string_view key)
{
    if (ref.shard >= shard_count())
        return std::nullopt;
    shard_view s = shard(ref.shard);
    shard_guard guard(s);
    std::uint64_t const head = locate_locked(s, ref, kind, key);
    if (head == 0)
        return std::nullopt;
    chunk_header* c = s.chunk(head);
    blob_meta const* m = s.meta(head);
    delivery d;
    d.data.resize(m->total_bytes);
    if (!s.read_record_locked(head, d.data.data())) {
        // Never send bytes that were not stored: the record is dropped alone.
        s.delete_record_locked(head);
        count_dropped(s.store(), drop_reason::checksum);
        RELAY_LOG_ERROR("shard %u: a record failed its checksum at delivery and was dropped (damaged memory or "
                        "disk); relay_store_records_dropped_total counts it",
                        ref.shard);
        return std::nullopt;
    }
    std::memcpy(d.blob_id.data(), m->blob_id, 16);
    if ((c->record_flags & record_flag_has_sender) &&
        !(c->delivery_flags.load(std::memory_order_relaxed) & delivery_flag_delivered_sent)) {
        d.delivered_due = true;
        d.sender.assign(m->sender, key_size);
        d.sender_message_id.assign(reinterpret_cast<char const*>(s.head_tail(head)), c->sender_message_id_len);
    }
    return d;
}

bool store::mark_delivered(blob_ref const& ref, std::string_view routing_id,
                           std::function<void(std::string_view, std::string_view)> const& announce)
{
    if (ref.shard >= shard_count())
        return false;
    shard_view s = shard(ref.shard);
    shard_guard guard(s);
    std::uint64_t const head = locate_locked(s, ref, blob_kind::update, routing_id);
    if (head == 0)
        return false;
    chunk_header* c = s.chunk(head);
    if (!(c->record_flags & record_flag_has_sender) ||
        (c->delivery_flags.load(std::memory_order_relaxed) & delivery_flag_delivered_sent))
        return false;
    RELAY_KILL_POINT("deliver.before_announce");
    announce(std::string_view(s.meta(head)->sender, key_size),
             std::string_view(reinterpret_cast<char const*>(s.head_tail(head)), c->sender_message_id_len));
    RELAY_KILL_POINT("deliver.before_mark");
    c->delivery_flags.fetch_or(delivery_flag_delivered_sent, std::memory_order_relaxed);
    return true;
}

removal store::remove(std::string_view routing_id, random::uuid const& blob_id)
{
    removal r;
    shard_view s = shard(shard_of(routing_id));
    shard_guard guard(s);
    auto const at =
        s.find_blob_locked(blob_kind::update, routing_id, blob_id.data(), [](std::uint64_t) { return true; });
    if (at.head == 0)
        return r;
    blob_meta const* m = s.meta(at.head);
    chunk_header const* c = s.chunk(at.head);
    if (c->record_flags & record_flag_has_sender) {
        r.has_sender = true;
        r.sender.assign(m->sender, key_size);
        r.sender_message_id.assign(reinterpret_cast<char const*>(s.head_tail(at.head)), c->sender_message_id_len);
    }
    s.delete_record_locked(at.anchor, at.prev, at.head);
    r.removed = true;
    return r;
}

std::uint64_t store::purge(blob_kind kind, std::string_view key)
{
    shard_view s = shard(shard_of(key));
    shard_guard guard(s);
    std::uint64_t deleted = 0;
    while (std::uint64_t const a = s.find_mailbox_locked(kind, key)) {
        s.delete_record_locked(a, 0, a); // the mailbox goes with its last record
        ++deleted;
    }
    return deleted;
}

std::uint64_t store::pending_count(blob_kind kind, std::string_view key)
{
    shard_view s = shard(shard_of(key));
    shard_guard guard(s);
    std::uint64_t const a = s.find_mailbox_locked(kind, key);
    return a ? s.anchor(a).count : 0;
}

std::uint64_t store::expire_shard(std::uint32_t index, per_kind const& cutoff_unix, std::uint32_t budget,
                                  per_kind* expired_by_kind)
{
    shard_view s = shard(index);
    shard_guard guard(s);
    std::uint64_t deleted = 0;
    for (std::uint32_t b = 0; b < s.header().buckets && deleted < budget; ++b) {
        // Deleting an anchor puts the next record of its mailbox (or the next
        // anchor of the bucket) in its place: look at the same link again.
        std::uint64_t* link = &s.buckets()[b];
        for (std::uint64_t steps = 0; *link != 0 && deleted < budget && steps <= s.header().mailbox_count + budget;
             ++steps) {
            std::uint64_t const a = *link;
            std::uint8_t const kind = s.chunk(a)->kind;
            if (kind >= blob_kind_count || s.meta(a)->created_unix > cutoff_unix[kind]) {
                link = &s.anchor(a).bucket_next;
                continue;
            }
            RELAY_KILL_POINT("expire.before_delete");
            if (expired_by_kind)
                (*expired_by_kind)[kind] += 1;
            s.delete_record_locked(a, 0, a);
            ++deleted;
            RELAY_KILL_POINT("expire.after_delete");
        }
    }
    return deleted;
}

std::uint64_t store::compact_shard(std::uint32_t index, std::uint32_t budget)
{
    shard_view s = shard(index);
    shard_guard guard(s);
    return s.compact_locked(budget);
}

std::uint64_t store::release_retired(std::uint32_t index)
{
    shard_view s = shard(index);
    shard_guard guard(s);
    return s.release_retired_locked();
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
    // The record a dead writer left between its two lock holds: freed, unless
    // it got as far as its commit (then the record stays, complete).
    worker_slot& ws = slot(slot_index);
    if (std::uint64_t const head = ws.reserved_head.load(std::memory_order_acquire); head != 0) {
        std::uint32_t const index = ws.reserved_shard.load();
        if (index < shard_count()) {
            shard_view s = shard(index);
            shard_guard guard(s);
            if (s.is_own_chunk(head) &&
                s.chunk(head)->state.load() == static_cast<std::uint32_t>(chunk_state::reserved) &&
                s.chunk(head)->seq == ws.reserved_seq.load()) {
                s.free_chain_locked(head);
                RELAY_LOG_WARN("worker slot %u: its process died between reserving and committing a record; freed "
                               "the record it was writing (never acknowledged)",
                               slot_index);
            }
        }
        ws.reserved_head.store(0, std::memory_order_release);
    }
    {
        presence_table presence(base_);
        presence_guard guard(presence);
        presence.reset_slot_locked(slot_index);
    }
    slot(slot_index).connections.store(0, std::memory_order_relaxed);
    address_counts::reset_slot(base_, header(), slot_index);
}

store_check store::check_all(verify_depth depth)
{
    {
        page_pool pool(base_);
        pool_guard guard(pool);
        if (auto const r = pool.check_locked(); !r.consistent)
            return r;
    }
    {
        presence_table presence(base_);
        presence_guard guard(presence);
        if (auto const r = presence.check_locked(); !r.consistent)
            return r;
    }
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_view s = shard(i);
        shard_guard guard(s);
        if (auto const r = s.check_locked(depth); !r.consistent)
            return check_result::failure("shard " + std::to_string(i) + ": " + r.problem);
    }
    return {};
}

void store::reinit_locks()
{
    page_pool(base_).reinit_lock();
    presence_table(base_).reinit_lock();
    for (std::uint32_t i = 0; i < shard_count(); ++i)
        shard(i).header().lock.init();
    // Bucket stamps are CLOCK_MONOTONIC, which restarts with the host: every
    // relay start begins with full buckets, as the Rust relay's in-memory ones.
    rate_limiter(base_, header()).reset();
}

store_totals store::totals() const
{
    store_totals t;
    t.arena_bytes = header().arena_bytes;
    t.pages = header().page_count;
    t.free_pages = page_pool(base_).free_pages();
    t.records_moved = page_pool(base_).header().records_moved.load(std::memory_order_relaxed);
    t.compactions = page_pool(base_).header().compactions.load(std::memory_order_relaxed);
    // Unlocked reads of plain counters: a snapshot for health and metrics, where
    // a value off by one in-flight update is fine.
    for (std::uint32_t i = 0; i < shard_count(); ++i) {
        shard_header const& h = shard(i).header();
        t.blobs += __atomic_load_n(&h.blob_count, __ATOMIC_RELAXED);
        for (std::size_t k = 0; k < blob_kind_count; ++k)
            t.by_kind[k] += __atomic_load_n(&h.kind_count[k], __ATOMIC_RELAXED);
        for (std::size_t c = 0; c < class_count; ++c)
            t.pages_by_class[c] += __atomic_load_n(&h.pages_of_class[c], __ATOMIC_RELAXED);
        t.data_bytes += __atomic_load_n(&h.data_bytes, __ATOMIC_RELAXED);
        t.chunk_bytes += __atomic_load_n(&h.chunk_bytes, __ATOMIC_RELAXED);
        t.mailboxes += __atomic_load_n(&h.mailbox_count, __ATOMIC_RELAXED);
        t.repairs += h.repairs.load(std::memory_order_relaxed);
    }
    return t;
}

} // namespace relay::shm
