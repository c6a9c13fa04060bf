#pragma once
// The one header that defines everything living in the shared store.
// Every struct here is mapped by several processes at once and, for
// the file backend, persists across restarts of the relay: fixed-width fields
// only, offsets instead of pointers, no Boost containers or allocators.
//
// File map (docs/store.md, "File layout"; offsets from the start of the file):
//
//   store_header                         the first page (64 KiB): magic, version,
//                                        geometry, seeds
//   arena: page_count pages of 64 KiB    the records: the only persistent truth
//   tail                                 soft and derived state, laid out again
//                                        whenever its shape changes:
//     worker_slot[max_worker_slots]      per worker process: pid, connections, counters
//     rate_entry[rate_table_entries]     lock-free token buckets (D-11)
//     nonce_entry[nonce_table_entries]   lock-free handshake nonce window (§5, D-10)
//     address_entry[max_worker_slots][address_table_entries]
//     notify_ring[max_worker_slots]      cross-worker notifications (docs/architecture.md#design-3)
//     pool_header, page_desc[page_count] the page pool shared by every shard
//     shard_header[shard_count]          locks, partial-page lists, counters
//     bucket heads                       per shard
//     presence_header, presence_entry[]  one table for the store (presence_table.hpp)
//
// Crash safety (docs/store.md): the chunk headers and records in the arena are
// the truth; everything in the tail is derived (rebuilt from the arena by
// shm/shard_repair.cpp and shm/store_recovery.cpp) or soft (reset at start).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "shm/robust_mutex.hpp"

namespace relay::shm {

/// "VRLY" — identifies a vauchi-relay store.
inline constexpr std::uint32_t layout_magic = 0x594c5256;
/// Bump on any change to a field, its size, its alignment or its meaning.
inline constexpr std::uint32_t layout_version = 3;
/// Every release before Store v2 wrote this version (migrated at start).
inline constexpr std::uint32_t legacy_layout_version = 2;

/// Workers are numbered 0..max_worker_slots-1; presence counts and rings exist
/// for every slot so that --workers can change across restarts without a new store.
inline constexpr std::uint32_t max_worker_slots = 64;
inline constexpr std::uint64_t page_size = 64 * 1024;
/// Routing ids and recipient keys are always 64 hex characters (validated before
/// they reach the store: handshake §4.3 and D-9).
inline constexpr std::size_t key_size = 64;
/// Sender envelope ids longer than this are not remembered (no Delivered ack for
/// them); real clients use 36-character UUIDs.
inline constexpr std::size_t max_sender_message_id = 255;

// ---------------------------------------------------------------------------
// Chunks. A page belongs to one size class; class c holds chunks of
// (min_chunk_size << c) bytes. A record is a head chunk followed by zero or
// more continuation chunks of any classes (chunk_plan.hpp).

inline constexpr std::uint32_t min_chunk_shift = 8; // 256 bytes
inline constexpr std::uint32_t class_count = 9;     // 256 B .. 64 KiB
inline constexpr std::uint32_t max_chunks_per_page = 256;

constexpr std::uint64_t chunk_size_of_class(std::uint32_t cls) { return std::uint64_t{1} << (min_chunk_shift + cls); }
constexpr std::uint32_t chunks_per_page(std::uint32_t cls)
{
    return static_cast<std::uint32_t>(page_size >> (min_chunk_shift + cls));
}
static_assert(chunk_size_of_class(class_count - 1) == page_size);
static_assert(chunks_per_page(0) == max_chunks_per_page);

/// What a stored record is. Each kind has its own mailboxes (the same 64-char
/// key can name an update mailbox and a device-sync mailbox), its own expiry
/// and its own delivery path (docs/protocol.md#s7-3, §7.6, §7.8).
enum class blob_kind : std::uint8_t {
    update = 0,         ///< EncryptedUpdate / AccountRevoked for a routing id
    device_sync = 1,    ///< DeviceSyncMessage for a client_id (data: device_sync_record)
    recovery_proof = 2, ///< RecoveryProofStore under a lowercase key_hash
    count_
};
inline constexpr std::size_t blob_kind_count = static_cast<std::size_t>(blob_kind::count_);

enum class chunk_state : std::uint32_t {
    free = 0,         ///< unused
    reserved = 1,     ///< head of a record being written: invisible; freed by repair unless a live writer holds it
    committed = 2,    ///< head of a stored record: the commit point (release store)
    continuation = 3, ///< second or later chunk of a record; alive only if reachable from a committed head
};

/// Every chunk header starts its identity with this stamp: bytes that do not
/// carry it are never read as a chunk header.
inline constexpr std::uint16_t chunk_stamp = 0xc5a3;

/// Header at the start of every chunk. Besides the chunk's own fields it
/// carries the identity of its page (class and owner shard) as they were when
/// it was written, so that recovery after a power cut can tell a current
/// header from a stale one (docs/store.md, "Pages, the pool and shards").
struct chunk_header {
    std::atomic<std::uint32_t> state;         ///< chunk_state (mutable)
    std::uint16_t stamp;                      ///< chunk_stamp
    std::uint8_t size_class;                  ///< the page's class when this header was written
    std::uint8_t kind;                        ///< blob_kind; head only
    std::uint16_t owner;                      ///< the shard owning the page when this header was written
    std::uint16_t sender_message_id_len;      ///< head only
    std::uint32_t bytes_here;                 ///< record data bytes in this chunk
    std::uint32_t record_crc;                 ///< head: seeded CRC32C of the record (record_crc.hpp)
    std::uint8_t record_flags;                ///< record_flag_* (immutable, checksummed); head only
    std::atomic<std::uint8_t> delivery_flags; ///< delivery_flag_* (mutable); head only
    std::uint8_t reserved[2];
    std::uint64_t seq;          ///< per-shard record sequence; continuations carry their head's
    std::uint64_t next;         ///< store offset of the record's next chunk, 0 = last
    std::uint64_t mailbox_next; ///< derived: store offset of the next head of the mailbox, 0 = last
};
static_assert(sizeof(chunk_header) == 48);

inline constexpr std::uint8_t record_flag_has_sender = 1;       ///< sender routing id + message id recorded (D-7)
inline constexpr std::uint8_t delivery_flag_delivered_sent = 1; ///< the Delivered ack was already emitted (D-7)
/// The old copy of a record compaction moved: out of every mailbox until the
/// next flush frees it; recovery treats it as a committed copy (shard_compaction.cpp).
inline constexpr std::uint8_t delivery_flag_retired = 2;

/// What a stored blob counts against its recipient's byte quota beyond its
/// data: the length of its blob id (a 36-character UUID) plus 8. The Rust
/// relay accounts it so and its tests depend on it (docs/protocol.md#s10-4): a
/// 100-byte blob counts 144 bytes. Every place that adds or removes quota
/// uses this one constant; a drift would make check_locked() reject the store.
inline constexpr std::uint64_t quota_overhead_per_blob = 36 + 8;

/// Derived mailbox fields, meaningful in the anchor (oldest head) of a mailbox
/// only; outside the checksum.
struct mailbox_anchor {
    std::uint64_t tail;        ///< store offset of the newest head
    std::uint64_t bucket_next; ///< store offset of the next anchor in the same bucket, 0 = last
    std::uint64_t quota_bytes; ///< Σ (data length + quota_overhead_per_blob)
    std::uint32_t count;       ///< records in the mailbox
    std::uint32_t reserved;
};
static_assert(sizeof(mailbox_anchor) == 32);

/// Metadata that follows the chunk_header in a head chunk; then the sender
/// message id bytes, then the first part of the record data.
struct blob_meta {
    char recipient[key_size];
    char sender[key_size];
    std::uint8_t blob_id[16];
    std::uint64_t created_unix;
    std::uint64_t total_bytes; ///< record data length
    mailbox_anchor anchor;     ///< derived (anchors only)
};
static_assert(sizeof(blob_meta) == 192);
/// The checksummed part of blob_meta: everything before the anchor.
inline constexpr std::size_t blob_meta_immutable = offsetof(blob_meta, anchor);

inline constexpr std::size_t head_overhead = sizeof(chunk_header) + sizeof(blob_meta);

// ---------------------------------------------------------------------------
// The page pool and the shards (tail: derived, rebuilt by recovery).

/// No page: list links and owners use it.
inline constexpr std::uint32_t no_page = 0xffffffffu;
inline constexpr std::uint16_t owner_none = 0xffff;

/// What the store knows about one page of the arena (derived).
struct page_desc {
    std::uint32_t prev;       ///< previous page on the same list, no_page if first
    std::uint32_t next;       ///< next page on the same list, no_page if last
    std::uint16_t owner;      ///< shard index, or owner_none (in the pool)
    std::uint8_t size_class;  ///< valid while owned
    std::uint8_t on_list;     ///< 1 while on its shard's partial list or the pool's free list
    std::uint16_t free_count; ///< free chunks on the page (owned pages)
    std::uint16_t reserved;
    std::uint64_t free_bits[max_chunks_per_page / 64]; ///< bit i set = chunk i free
};
static_assert(sizeof(page_desc) == 48);

struct pool_header {
    robust_mutex lock;
    std::uint32_t free_head; ///< first free page, no_page if none
    std::uint32_t free_pages;
    std::uint32_t page_count;
    std::uint32_t reserved;
    std::atomic<std::uint64_t> pages_taken;    ///< statistics
    std::atomic<std::uint64_t> pages_returned; ///< statistics
    std::atomic<std::uint64_t> records_moved;  ///< statistics: records compaction moved
    std::atomic<std::uint64_t> compactions;    ///< statistics: compaction rounds that moved a record
};

struct shard_header {
    robust_mutex lock;
    std::uint32_t index;
    std::uint32_t buckets;        ///< mailbox buckets of this shard (power of two)
    std::uint64_t buckets_offset; ///< std::uint64_t[buckets]: first anchor of each bucket
    // ---- derived (repair rebuilds these) ----
    std::uint32_t partial_head[class_count]; ///< pages of the class with a free chunk, no_page if none
    std::uint32_t pages_of_class[class_count];
    std::uint64_t next_seq;
    std::uint64_t blob_count; ///< all kinds
    std::uint64_t kind_count[blob_kind_count];
    std::uint64_t data_bytes;  ///< Σ record data lengths
    std::uint64_t chunk_bytes; ///< Σ chunk sizes of live records
    std::uint64_t mailbox_count;
    std::uint64_t retired_head; ///< old copies of moved records, linked by mailbox_next
    std::uint64_t retired_count;
    // ---- statistics (not derived, informative) ----
    std::atomic<std::uint64_t> repairs;
};

/// Live connections of one routing id, per worker slot (D-4, docs/architecture.md#design-3). Soft
/// state: a dead worker's counts are reset by the supervisor.
struct presence_entry {
    char key[key_size];
    std::uint16_t used;
    std::uint8_t kind; ///< always blob_kind::update (shares the table code with mailboxes)
    std::uint8_t reserved;
    std::uint32_t total;
    std::uint16_t per_slot[max_worker_slots];
};
static_assert(sizeof(presence_entry) == 200);

/// The presence table's header (presence_table.hpp): one table for the
/// whole store, its entries following at presence_entries_at.
struct presence_header {
    robust_mutex lock;
    std::uint32_t used;
    std::uint32_t reserved;
};
inline constexpr std::uint64_t presence_entries_at = 64;
static_assert(sizeof(presence_header) <= presence_entries_at);

// ---------------------------------------------------------------------------
// Soft, lock-free state.

/// Counters a worker keeps about itself; the metrics endpoint sums them.
enum class counter : std::uint32_t {
    connections_total,
    connection_errors_total,
    connections_rejected_limit,
    connections_rejected_per_ip,
    connections_without_presence_total, ///< presence could not be recorded: the connection's mailbox is polled
    messages_received_total,
    messages_sent_total,
    messages_rejected_total,
    blobs_created_total,
    blobs_delivered_total,
    blobs_expired_total,
    rate_limited_total,
    store_failed_total,
    notifications_dropped_total,
    slow_consumers_closed_total,
    handshakes_rejected_total, ///< invalid handshakes ([CLOSE]), nonce replays included
    nonce_replays_total,
    device_sync_stored_total,
    device_sync_delivered_total,
    recovery_proofs_stored_total, ///< exported as relay_recovery_vouchers_total
    recovery_queries_total,
    recovery_rate_limited_total,
    purges_total,
    noise_sessions_total,
    noise_decrypt_failures_total,
    noise_frames_skipped_total,     ///< frames too large to encrypt (Q-8)
    sync_flushes_total,             ///< group flushes of RELAY_SYNC_COMMIT=on
    sync_records_total,             ///< records whose Stored waited for one of them
    push_catch_ups_total,           ///< a worker's ring lost pushes: its connections listed their mailboxes
    stall_kills_total,              ///< this slot's worker was killed for not heartbeating
    proxy_header_errors_total,      ///< PROXY mode: a missing, malformed, oversized or late header
    connections_rejected_untrusted, ///< PROXY mode: a peer outside RELAY_TRUSTED_PROXIES
    count_
};
inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);

/// relay_message_duration_seconds uses Prometheus' default buckets (docs/protocol.md#s11-3).
inline constexpr double duration_bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
inline constexpr std::size_t duration_bucket_count = std::size(duration_bucket_bounds);

struct alignas(64) worker_slot {
    std::atomic<std::int32_t> pid;           ///< 0 when the slot has no live process
    std::atomic<std::uint32_t> generation;   ///< bumped at each (re)spawn
    std::atomic<std::uint64_t> heartbeat_ms; ///< CLOCK_MONOTONIC; 0 until the worker first beats
    std::atomic<std::uint64_t> connections;  ///< admitted TCP connections now open in this worker
    std::atomic<std::uint64_t> counters[counter_count];
    /// Handling time of post-handshake messages: per bucket (not cumulative;
    /// the last entry is +Inf), and the sum in nanoseconds.
    std::atomic<std::uint64_t> duration_buckets[duration_bucket_count + 1];
    std::atomic<std::uint64_t> duration_sum_ns;
    /// The record this slot's process is writing outside the shard lock
    /// (docs/store.md, "Commit protocol"): its chunks are kept by a shard
    /// repair, and freed by the supervisor if the process dies. 0 = none.
    std::atomic<std::uint64_t> reserved_head;
    std::atomic<std::uint64_t> reserved_seq;
    std::atomic<std::uint32_t> reserved_shard;
};

/// One remembered handshake nonce (docs/protocol.md#s5, D-10, D-11): 44 bits of a
/// keyed hash of the nonce | 20 bits of the Unix second it was recorded
/// (modulo 2^20, about 12 days). 0 = empty. One word so that a compare-and-swap
/// claims an entry and dates it at once.
struct nonce_entry {
    std::atomic<std::uint64_t> word;
};
inline constexpr std::uint32_t nonce_table_entries = 1u << 20; // 8 MiB

/// Open connections from one source address in one worker (the per-address
/// cap, RELAY_MAX_CONNECTIONS_PER_IP). Each worker writes only its own table, so
/// no locks: the others read it to sum a relay-wide count (D-11). key = keyed
/// hash of the address, 0 = empty.
struct address_entry {
    std::atomic<std::uint64_t> key;
    std::atomic<std::uint32_t> count;
    std::uint32_t reserved;
};
inline constexpr std::uint32_t address_table_entries = 16384; // 256 KiB per worker slot

/// One token bucket: key = keyed 64-bit hash of the routing id (0 = empty),
/// state = tokens (1/256 units, high 28 bits) | time (1/64 s since store epoch, low 36 bits).
struct rate_entry {
    std::atomic<std::uint64_t> key;
    std::atomic<std::uint64_t> state;
};

/// One token bucket, read and written only under its group's lock.
struct rate_bucket {
    std::uint64_t key;    ///< hash of family and routing id, never 0; 0: free
    std::uint32_t tokens; ///< in 1/256 of a token
    std::uint32_t stamp;  ///< last refill, CLOCK_MONOTONIC in 1/64 s, modulo 2^32 (2.1 years)
};
inline constexpr std::uint32_t rate_group_buckets = 13;
/// The rate table is laid out as rate_entry[rate_table_entries] (its size in
/// the header's geometry) and used as groups of 16 entries' room: a lock and
/// 13 buckets (rate_limiter.hpp).
struct rate_group {
    robust_mutex lock;
    std::uint8_t pad_[48 - sizeof(robust_mutex)];
    rate_bucket buckets[rate_group_buckets];
};
inline constexpr std::uint32_t rate_entries_per_group = 16;
static_assert(sizeof(rate_group) == rate_entries_per_group * sizeof(rate_entry));

enum class notify_kind : std::uint8_t {
    push_blob = 1,             ///< a blob was stored for a routing id live on this worker (D-5)
    delivered = 2,             ///< tell a sender its blob reached the recipient (D-6)
    received_by_recipient = 3, ///< forward the recipient's receipt (D-7)
};

struct notify_entry {
    std::uint8_t kind;
    std::uint8_t message_id_len;
    std::uint16_t reserved;
    std::uint32_t shard;       ///< push_blob: shard of the blob
    std::uint64_t blob_offset; ///< push_blob: head chunk offset
    std::uint64_t blob_seq;    ///< push_blob: to detect a reused chunk
    char routing_id[key_size]; ///< whose connections on this worker get it
    char message_id[max_sender_message_id];
};

inline constexpr std::uint32_t notify_ring_capacity = 256;

/// Bounded multi-producer ring of one worker slot. A full ring drops the
/// notification (best effort, docs/architecture.md#design-3); a producer that dies inside the lock
/// only costs the ring's contents (it is reset).
struct notify_ring {
    robust_mutex lock;
    std::uint64_t head; ///< next entry to read
    std::uint64_t tail; ///< next entry to write
    std::atomic<std::uint64_t> dropped;
    notify_entry entries[notify_ring_capacity];
};

/// Why recovery or a delivery dropped a record (relay_store_records_dropped_total).
enum class drop_reason : std::uint32_t {
    checksum,  ///< its bytes are not what was stored
    structure, ///< its chain of chunks does not read back (lengths, links, identity)
    count_
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

/// Why a store was refused (relay_store_refusals_total).
enum class refusal_reason : std::uint32_t {
    quota,    ///< the recipient's per-user quota
    capacity, ///< no free chunk and no free page
    count_
};
inline constexpr std::size_t refusal_reason_count = static_cast<std::size_t>(refusal_reason::count_);

/// The first page of the file. Everything that sizes or places something is
/// validated at open (segment.cpp) before it is used.
struct store_header {
    std::uint32_t magic; ///< written last at creation
    std::uint32_t version;
    std::uint64_t arena_fingerprint; ///< the record format: must match (or the store is migrated)
    std::uint64_t tail_fingerprint;  ///< the tail's shape: a mismatch only lays the tail out again
    std::uint64_t total_size;
    std::uint64_t created_unix;
    std::uint64_t epoch_unix;   ///< time origin of rate-limit timestamps
    std::uint64_t hash_seed;    ///< keys the table and rate-limit hashes
    std::uint64_t crc_seed;     ///< keys the record checksums
    std::uint32_t shard_count;  ///< power of two
    std::uint32_t page_count;   ///< pages in the arena
    std::uint64_t arena_offset; ///< always page_size
    std::uint64_t arena_bytes;  ///< page_count * page_size
    /// CRC32C of the fields above (segment.cpp, identity_crc): one damaged
    /// seed would otherwise cost every record. A copy of this header lives at
    /// header_copy_offset and restores it.
    std::uint32_t identity_crc;
    std::uint32_t reserved1;
    // ---- the tail (docs/store.md): recomputed from the sizes below and checked ----
    std::uint64_t tail_offset;
    std::uint32_t rate_table_entries; ///< power of two
    std::uint32_t presence_capacity;  ///< entries of the presence table (whole store), power of two
    std::uint32_t buckets_per_shard;  ///< power of two
    std::uint32_t reserved0;
    std::uint64_t slots_offset;
    std::uint64_t rate_offset;
    std::uint64_t nonces_offset;    ///< nonce_entry[nonce_table_entries]
    std::uint64_t addresses_offset; ///< address_entry[max_worker_slots][address_table_entries]
    std::uint64_t rings_offset;
    std::uint64_t pool_offset;     ///< pool_header
    std::uint64_t descs_offset;    ///< page_desc[page_count]
    std::uint64_t shards_offset;   ///< shard_header[shard_count]
    std::uint64_t buckets_offset;  ///< std::uint64_t[shard_count][buckets_per_shard]
    std::uint64_t presence_offset; ///< presence_header, then presence_entry[presence_capacity]
    // ---- state ----
    std::atomic<std::uint32_t> clean_shutdown; ///< 1 while no process has it open for writing
    std::atomic<std::uint64_t> opened_count;
    std::atomic<std::uint64_t> last_sweep_unix;
    std::atomic<std::uint64_t> blobs_expired_total; ///< counted by the cleanup process
    std::atomic<std::uint64_t> records_dropped[drop_reason_count];
    std::atomic<std::uint64_t> refusals[refusal_reason_count];
};

static_assert(std::is_standard_layout_v<chunk_header>);
static_assert(std::is_standard_layout_v<store_header>);
static_assert(sizeof(store_header) <= page_size);
/// Where the copy of the header's identity lives: another 4 KiB page of the
/// first 64 KiB, so that one damaged page cannot take both.
inline constexpr std::uint64_t header_copy_offset = 32 * 1024;
static_assert(header_copy_offset + sizeof(store_header) <= page_size);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint8_t>::is_always_lock_free);

namespace detail {
constexpr void fnv_mix(std::uint64_t& h, std::uint64_t v) { h = (h ^ v) * 1099511628211ull; }
} // namespace detail

/// The record format: a binary whose records differ refuses (or migrates) the store.
constexpr std::uint64_t arena_fingerprint()
{
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint64_t v :
         {std::uint64_t{layout_version}, std::uint64_t{sizeof(store_header)}, std::uint64_t{sizeof(chunk_header)},
          std::uint64_t{alignof(chunk_header)}, std::uint64_t{sizeof(blob_meta)}, std::uint64_t{blob_meta_immutable},
          std::uint64_t{blob_kind_count}, std::uint64_t{page_size}, std::uint64_t{class_count},
          std::uint64_t{min_chunk_shift}, std::uint64_t{chunk_stamp}, std::uint64_t{key_size},
          std::uint64_t{drop_reason_count}, std::uint64_t{refusal_reason_count}})
        detail::fnv_mix(h, v);
    return h;
}

/// The shape of every struct in the tail: a mismatch lays the tail out again
/// (soft state starts empty; derived state is rebuilt anyway).
constexpr std::uint64_t tail_fingerprint()
{
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint64_t v : {std::uint64_t{sizeof(worker_slot)},     std::uint64_t{alignof(worker_slot)},
                            std::uint64_t{sizeof(rate_entry)},      std::uint64_t{sizeof(rate_group)},
                            std::uint64_t{rate_group_buckets},      std::uint64_t{sizeof(nonce_entry)},
                            std::uint64_t{nonce_table_entries},     std::uint64_t{sizeof(address_entry)},
                            std::uint64_t{address_table_entries},   std::uint64_t{sizeof(notify_entry)},
                            std::uint64_t{sizeof(notify_ring)},     std::uint64_t{notify_ring_capacity},
                            std::uint64_t{sizeof(pool_header)},     std::uint64_t{sizeof(page_desc)},
                            std::uint64_t{sizeof(shard_header)},    std::uint64_t{alignof(shard_header)},
                            std::uint64_t{sizeof(presence_entry)},  std::uint64_t{sizeof(robust_mutex)},
                            std::uint64_t{sizeof(presence_header)}, std::uint64_t{presence_entries_at},
                            std::uint64_t{max_worker_slots},        std::uint64_t{counter_count},
                            std::uint64_t{duration_bucket_count}})
        detail::fnv_mix(h, v);
    return h;
}

} // namespace relay::shm
