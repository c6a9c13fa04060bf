#pragma once
// The shared store as the worker and cleanup processes use it: blobs by
// recipient, presence of live connections, worker slots. A `store` is a view
// over a mapped segment (segment.hpp); it owns nothing and is cheap to copy.
// Every operation takes one shard lock briefly and never does I/O under it.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.hpp"
#include "shm/check_result.hpp"
#include "shm/layout.hpp"
#include "shm/chunk_plan.hpp"
#include "shm/shard.hpp"
#include "shm/stored_record.hpp"

namespace relay::shm {

/// Names one blob without holding a lock; `seq` detects that the chunk was
/// reused since the reference was taken.
struct blob_ref {
    std::uint32_t shard = 0;
    blob_kind kind = blob_kind::update; ///< fits the padding after `shard`: still 24 bytes
    std::uint64_t offset = 0;
    std::uint64_t seq = 0;
};

struct put_request {
    blob_kind kind = blob_kind::update;
    std::string_view recipient; ///< 64 hex characters (validated by the caller)
    std::span<std::uint8_t const> data;
    std::string_view sender;            ///< sender's routing id, empty for none (AccountRevoked)
    std::string_view sender_message_id; ///< sender's envelope id, for Delivered (D-6)
    std::uint64_t now = 0;
    std::uint64_t max_blobs = 0;  ///< per-recipient count quota, 0 = unlimited
    std::uint64_t max_bytes = 0;  ///< per-recipient byte quota, 0 = unlimited
    bool check_byte_quota = true; ///< AccountRevoked skips it (docs/protocol.md#s7-5)
    /// Recovery proofs: once the new blob is committed, older blobs under the
    /// same key are deleted (a crash in between leaves both; readers take the newest).
    bool replace_existing = false;
    /// Import and migration: the record keeps the id it was given and its
    /// delivered flag (D-7) instead of a fresh id.
    random::uuid const* preset_blob_id = nullptr;
    bool delivered_sent = false;
};

enum class put_status { stored, over_quota, store_full };

struct put_result {
    put_status status = put_status::store_full;
    blob_ref ref;
    random::uuid blob_id{};
    std::uint64_t live_slots = 0; ///< worker slots with a live connection of the recipient (D-5)
};

/// A blob copied out of the store for delivery.
struct delivery {
    random::uuid blob_id{};
    std::vector<std::uint8_t> data;
    /// The blob has a sender who has not had its Delivered ack yet (D-7):
    /// mark_delivered() once its frame is written.
    bool delivered_due = false;
    std::string sender;
    std::string sender_message_id;
};

struct removal {
    bool removed = false;
    bool has_sender = false;
    std::string sender;
    std::string sender_message_id;
};

/// A routing id's blobs as one listing saw them under its shard lock.
struct mailbox_listing {
    std::vector<blob_ref> pending; ///< oldest first
    /// The shard's newest sequence number at the listing: every blob of the
    /// routing id committed up to it is in `pending` (or already gone), and
    /// every later one has a higher sequence number.
    std::uint64_t through_seq = 0;
};

struct attach_result : mailbox_listing {
    /// False if the presence table was full: no put() sees this connection,
    /// so its worker polls its mailbox instead (worker/push_tracker.hpp).
    bool registered = false;
};

/// A device-sync message listed for delivery (docs/protocol.md#s7-6).
struct device_sync_ref {
    blob_ref ref;
    std::uint64_t version = 0;
};

struct store_totals {
    std::uint64_t blobs = 0; ///< every kind
    std::uint64_t by_kind[blob_kind_count] = {};
    std::uint64_t data_bytes = 0;
    std::uint64_t chunk_bytes = 0;
    std::uint64_t arena_bytes = 0;
    std::uint64_t repairs = 0;
    std::uint64_t pages = 0;      ///< pages in the arena
    std::uint64_t free_pages = 0; ///< pages in the pool
    std::uint64_t pages_by_class[class_count] = {};
    std::uint64_t mailboxes = 0;
    std::uint64_t records_moved = 0; ///< by compaction, since the tail was laid out
    std::uint64_t compactions = 0;   ///< compaction rounds that moved a record
};

/// A process that stores records outside the shard lock must name its
/// worker slot, where its reservation is recorded (docs/store.md, "Commit
/// protocol"); one without (tests, import) writes under the lock.
inline constexpr std::uint32_t no_writer_slot = 0xffffffffu;

/// What store::check_all() found: consistent, or the first problem in words.
using store_check = check_result;

class store {
public:
    explicit store(std::uint8_t* base, std::uint32_t writer_slot = no_writer_slot) noexcept;

    std::uint8_t* base() const noexcept { return base_; }
    store_header& header() const noexcept { return *reinterpret_cast<store_header*>(base_); }
    std::uint32_t shard_count() const noexcept { return header().shard_count; }
    std::uint32_t shard_of(std::string_view routing_id) const noexcept;
    shard_view shard(std::uint32_t index) const noexcept;
    worker_slot& slot(std::uint32_t index) const noexcept;

    /// Stores a blob; `Stored` may be sent once this returns put_status::stored.
    put_result put(put_request const& request);
    /// Puts a record back with its identity (blob id, times, sender, flags):
    /// --import and the layout-2 migration. No quota applies.
    put_status import_record(stored_record const& record);
    /// Calls `sink` for every record of the store, each mailbox in order,
    /// holding every shard lock at once (a consistent snapshot even while
    /// workers store and deliver): --export.
    void for_each_record(std::function<void(stored_record const&)> const& sink);
    /// Registers a live connection of `routing_id` on worker `slot` and lists the
    /// blobs pending for it, atomically: every later put() sees the presence.
    /// `after_seq`: list only blobs committed after it.
    attach_result attach(std::string_view routing_id, std::uint32_t slot, std::uint64_t after_seq = 0);
    /// The blobs of `routing_id` committed after sequence `after_seq`: what a
    /// connection missed when a push could not reach it.
    mailbox_listing list_after(std::string_view routing_id, std::uint64_t after_seq);
    /// Undoes one attach().
    void detach(std::string_view routing_id, std::uint32_t slot);
    /// Worker slots where `routing_id` has live connections.
    std::uint64_t live_slots(std::string_view routing_id);
    /// Copies a blob out if it still exists and belongs to `routing_id`.
    std::optional<delivery> fetch(blob_ref const& ref, std::string_view routing_id)
    {
        return fetch(ref, blob_kind::update, routing_id);
    }
    std::optional<delivery> fetch(blob_ref const& ref, blob_kind kind, std::string_view key);
    /// The blob's frame reached the recipient's socket: if its sender has not
    /// had its Delivered ack yet (D-7), calls `announce` with the sender and
    /// its message id, then records that it was sent, both under the shard
    /// lock. A process killed in between has announced without recording, so
    /// the next hand-over announces again: a Delivered ack can repeat after a
    /// crash but is never lost. `announce` must not take a shard lock.
    bool mark_delivered(blob_ref const& ref, std::string_view routing_id,
                        std::function<void(std::string_view sender, std::string_view message_id)> const& announce);
    /// Deletes the blob `blob_id` if it is addressed to `routing_id`.
    removal remove(std::string_view routing_id, random::uuid const& blob_id);
    /// Deletes every blob of `kind` filed under `key`; returns how many.
    std::uint64_t purge(blob_kind kind, std::string_view key);
    std::uint64_t purge(std::string_view routing_id) { return purge(blob_kind::update, routing_id); }
    /// Number of blobs of `kind` pending under `key` (tests, diagnostics).
    std::uint64_t pending_count(blob_kind kind, std::string_view key);
    std::uint64_t pending_count(std::string_view routing_id) { return pending_count(blob_kind::update, routing_id); }

    // ---- device sync and recovery proofs (store_records.cpp) ----
    /// Device-sync messages of `client_id` addressed to `device_id`, ordered by
    /// version, then by arrival (docs/protocol.md#s7-6).
    std::vector<device_sync_ref> list_device_sync(std::string_view client_id, std::string_view device_id);
    /// DeviceSyncAck: deletes the message `id` of (`client_id`, `device_id`).
    bool remove_device_sync(std::string_view client_id, std::string_view device_id, random::uuid const& id);
    /// The newest recovery proof under `key_hash` created after `created_after`.
    std::optional<std::vector<std::uint8_t>> find_recovery_proof(std::string_view key_hash,
                                                                 std::uint64_t created_after);

    /// Deletes records created at or before the cutoff of their kind (indexed by
    /// blob_kind), at most `budget` per lock hold; returns how many were deleted
    /// (sweep.cpp drives it).
    using per_kind = std::array<std::uint64_t, blob_kind_count>;
    std::uint64_t expire_shard(std::uint32_t shard, per_kind const& cutoff_unix, std::uint32_t budget,
                               per_kind* expired_by_kind = nullptr);

    /// Compaction, phase 1 (compaction.cpp drives it): moves up to `budget`
    /// records of shard `index` off sparse pages; returns how many moved.
    std::uint64_t compact_shard(std::uint32_t index, std::uint32_t budget);
    /// Compaction, phase 2, once the store file was flushed after phase 1:
    /// frees the old copies, so that emptied pages go back to the pool.
    std::uint64_t release_retired(std::uint32_t index);

    /// Takes and releases every shard lock: a shard whose lock a dead process
    /// held is repaired now (by the caller) instead of at its next use.
    void recover_shards();
    /// Resets every trace of a dead worker: the record it was writing,
    /// presence counts, connection count and its per-address connection counts.
    void reset_slot(std::uint32_t slot);
    /// Records kept, and dropped by reason, over every shard rebuilt.
    using rebuild_stats = shard_view::rebuild_stats;
    /// Everything a store needs before any process serves from it, at start
    /// and after an escalation, while no other process has it open: locks
    /// re-initialised, the soft state of processes that no longer exist
    /// cleared (presence, rings, worker slots), then rebuild_all().
    /// `identity_fd`: the store file opened with O_DIRECT, or -1 (see
    /// store_recovery.cpp, page_identity_reader, for why it matters).
    rebuild_stats recover_unshared(std::function<void(std::uint32_t, std::uint32_t)> const& progress,
                                   int identity_fd = -1);
    /// Rebuilds the whole store from its records, trusting nothing derived
    /// (store_recovery.cpp): only while no other process has it open.
    /// `progress(done, total)` after each shard.
    rebuild_stats rebuild_all(std::function<void(std::uint32_t, std::uint32_t)> const& progress, int identity_fd = -1);
    /// Verifies the pool, the presence table and every shard; with
    /// verify_depth::checksums every record's checksum too.
    store_check check_all(verify_depth depth = verify_depth::structure);
    /// Re-initialises every lock: only while no other process has the store open.
    void reinit_locks();
    store_totals totals() const;

private:
    /// Phase 4 of a put (docs/store.md, "Commit protocol").
    put_status commit_locked(shard_view& s, put_request const& rq, std::uint64_t head, std::uint64_t seq,
                             put_result& result);
    static void list_mailbox_locked(shard_view& s, std::uint32_t index, std::string_view routing_id,
                                    std::uint64_t after_seq, mailbox_listing& out);

    std::uint8_t* base_;
    std::uint32_t writer_slot_;
};

} // namespace relay::shm
