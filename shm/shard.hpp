#pragma once
// Internal view of one shard of the store: chunks on the shard's pages, the
// mailboxes (chains of anchors in hash buckets), the presence table, repair.
// Every *_locked function requires the caller to hold the shard's lock
// (through shard_guard). Not part of the store's public API.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/check_result.hpp"
#include "shm/layout.hpp"
#include "shm/page_pool.hpp"

namespace relay::shm {

/// Seeded 64-bit hash of a 64-character key (tables and rate buckets).
std::uint64_t key_hash(std::uint64_t seed, std::string_view key) noexcept;
/// Hash of a (kind, key) table key: kinds never share a probe sequence by design.
std::uint64_t table_hash(std::uint64_t seed, blob_kind kind, std::string_view key) noexcept;
/// The shard a key belongs to (independent of the table hash: its top bits).
std::uint32_t shard_of_key(store_header const& h, std::string_view key) noexcept;

/// Drops a record because it did not read back: logged (never whose) and
/// counted in the store header (relay_store_records_dropped_total).
void count_dropped(store_header& h, drop_reason why, std::uint64_t n = 1) noexcept;

class shard_view {
public:
    shard_view(std::uint8_t* base, shard_header& header) noexcept;

    std::uint8_t* base() const noexcept { return base_; }
    store_header& store() const noexcept { return *reinterpret_cast<store_header*>(base_); }
    shard_header& header() const noexcept { return h_; }
    std::uint16_t index() const noexcept { return static_cast<std::uint16_t>(h_.index); }
    page_pool pool() const noexcept { return page_pool(base_); }
    chunk_header* chunk(std::uint64_t offset) const noexcept { return reinterpret_cast<chunk_header*>(base_ + offset); }
    blob_meta* meta(std::uint64_t head) const noexcept
    {
        return reinterpret_cast<blob_meta*>(base_ + head + sizeof(chunk_header));
    }
    mailbox_anchor& anchor(std::uint64_t head) const noexcept { return meta(head)->anchor; }
    /// The sender message id, then the first data bytes, of a head.
    std::uint8_t* head_tail(std::uint64_t head) const noexcept
    {
        return reinterpret_cast<std::uint8_t*>(meta(head) + 1);
    }
    std::uint64_t* buckets() const noexcept { return reinterpret_cast<std::uint64_t*>(base_ + h_.buckets_offset); }

    /// True if `offset` is the start of a chunk on the grid of a page this
    /// shard owns (bounds-checked: any value is safe to pass).
    bool is_own_chunk(std::uint64_t offset) const noexcept;
    /// True if the header at `offset` carries the identity of its page as
    /// this shard owns it (stamp, class, owner).
    bool has_page_identity(std::uint64_t offset) const noexcept;

    // ---- chunks ----
    /// Takes a free chunk of class `cls` (a page from the pool if the shard
    /// has none) and writes its identity; 0 if the store is full.
    std::uint64_t alloc_chunk_locked(std::uint32_t cls);
    /// Frees a chunk; a page left empty goes back to the pool.
    void free_chunk_locked(std::uint64_t offset);
    /// Frees every chunk of a record whose head is no longer committed.
    void free_chain_locked(std::uint64_t head);

    /// Starts loading the cache line where `key`'s mailbox bucket lookup
    /// begins, before the lock is taken. A hint only.
    void prefetch_lookups(blob_kind kind, std::string_view key) const noexcept;

    // ---- mailboxes ((kind, key) → records in arrival order) ----
    /// The anchor (oldest head) of the mailbox, 0 if it has no record.
    std::uint64_t find_mailbox_locked(blob_kind kind, std::string_view key) const;
    /// Links a committed head as the newest record of its mailbox.
    void append_locked(std::uint64_t head);
    /// The same when the caller already looked the mailbox up: `anchor` is
    /// find_mailbox_locked()'s answer for the head's kind and key (0: none).
    void append_locked(std::uint64_t head, std::uint64_t anchor);
    /// Un-commits a record, unlinks it from its mailbox (`prev` = the previous
    /// head in the mailbox or 0) and frees its chunks. The single release store
    /// on the head's state is the point after which it no longer exists.
    void delete_record_locked(std::uint64_t anchor, std::uint64_t prev, std::uint64_t head);
    /// Deletes `head` wherever it is in its mailbox (walks to find its predecessor).
    void delete_record_locked(std::uint64_t head);

    /// Where a record sits in its mailbox: what delete_record_locked() needs.
    struct mailbox_position {
        std::uint64_t anchor = 0;
        std::uint64_t prev = 0; ///< the previous head in the mailbox, 0 for the anchor
        std::uint64_t head = 0; ///< 0: not found
    };
    /// The oldest record of the (kind, key) mailbox with blob id `blob_id`
    /// (16 bytes) for which `also(head)` holds.
    template <typename Also>
    mailbox_position find_blob_locked(blob_kind kind, std::string_view key, std::uint8_t const* blob_id,
                                      Also also) const
    {
        mailbox_position at;
        at.anchor = find_mailbox_locked(kind, key);
        for (std::uint64_t off = at.anchor; off != 0; at.prev = off, off = chunk(off)->mailbox_next)
            if (std::memcmp(meta(off)->blob_id, blob_id, sizeof meta(off)->blob_id) == 0 && also(off)) {
                at.head = off;
                return at;
            }
        return {};
    }

    // ---- records ----
    /// Copies a record's data out and checks its checksum; false if the
    /// chain or the checksum does not verify (out is then unspecified).
    bool read_record_locked(std::uint64_t head, std::uint8_t* out) const;

    /// The head of the record `slot`'s process is writing in this shard
    /// outside the lock, or 0 (none, or a stale entry of a finished put).
    std::uint64_t live_reservation(worker_slot const& slot) const noexcept;

    /// The live head of the (kind, key) mailbox with sequence `seq`, or 0: a
    /// reference whose record compaction moved finds it again this way.
    std::uint64_t find_record_locked(blob_kind kind, std::string_view key, std::uint64_t seq) const;
    /// A committed head that is not a retired copy.
    bool is_live_head(std::uint64_t offset) const noexcept;

    // ---- compaction (shard_compaction.cpp) ----
    /// Moves up to `budget` records off the sparsest pages of each size class
    /// that holds clearly more pages than its records need; their old copies
    /// are retired. Returns how many moved.
    std::uint64_t compact_locked(std::uint32_t budget);
    /// Frees every retired copy: only once the store file was flushed after
    /// the moves (the new copies are then on disk). Returns how many.
    std::uint64_t release_retired_locked();
    /// Frees the retired copy of record `seq`, if any: its live copy is deleted.
    void drop_retired_copy_locked(std::uint64_t seq);

    // ---- repair (shard_repair.cpp) ----
    struct rebuild_stats {
        std::uint64_t kept = 0;
        std::uint64_t dropped[drop_reason_count] = {};
        std::uint64_t copies = 0; ///< second copies of moved records, set aside
        std::uint64_t dropped_total() const noexcept;
    };
    /// Rebuilds every derived structure of this shard from the chunk headers
    /// of the pages the page descriptors give it (exact after a SIGKILL; made
    /// from the pages' identity chunks at start), keeping the chunks of
    /// reservations recorded in worker slots. Pages left empty go back to the
    /// pool. Records that do not read back are dropped, logged and counted.
    rebuild_stats rebuild_locked();
    /// Verifies every invariant; false with a reason if one fails. With
    /// `checksums`, every record's checksum too.
    check_result check_locked(verify_depth depth = verify_depth::structure) const;
    /// The policy when a lock holder died: rebuild, verify, log; a repair that
    /// cannot be proven consistent (a record a crash alone cannot damage)
    /// ends the process with exit code 3 so the supervisor escalates, or in
    /// the supervisor itself is counted (set_unprovable_repair_fatal).
    void repair_after_owner_died_locked();

private:
    std::uint64_t* bucket_of(blob_kind kind, std::string_view key) const noexcept;
    std::uint64_t* link_to_anchor(std::uint64_t anchor) const noexcept;
    void take_page_locked(std::uint32_t cls);
    void unlink_partial_locked(std::uint32_t page);
    void push_partial_locked(std::uint32_t page);
    std::uint64_t alloc_chunk_for_move_locked(std::uint32_t cls, bool leaves_sparse_page);
    std::uint64_t relocate_record_locked(std::uint64_t anchor, std::uint64_t prev, std::uint64_t head,
                                         std::vector<std::uint8_t> const& is_source);

    std::uint8_t* base_;
    shard_header& h_;
    std::uint64_t seed_;
    std::uint64_t arena_offset_;
    std::uint32_t page_count_;
};

/// Whether a repair that could not be proven consistent ends the process
/// (exit code 3, so the supervisor escalates; the default, for workers and
/// cleanup) or is only counted (the supervisor itself, which escalates
/// after its own repair instead of exiting).
void set_unprovable_repair_fatal(bool fatal);
/// How many repairs in this process could not be proven consistent.
std::uint64_t unprovable_repairs_seen();

/// Holds a shard's lock for a scope. If the previous holder died inside the
/// critical section, the shard is rebuilt from its chunks before the caller
/// sees it (docs/store.md, "Recovery").
class shard_guard final {
public:
    explicit shard_guard(shard_view& shard);
    ~shard_guard();
    shard_guard(shard_guard const&) = delete;
    shard_guard& operator=(shard_guard const&) = delete;
    /// True if this acquisition had to repair the shard.
    bool repaired() const noexcept { return repaired_; }

private:
    shard_view& shard_;
    bool repaired_ = false;
};

} // namespace relay::shm
