#pragma once
// The one header that defines everything living in the shared store
// (STYLE G7). Every struct here is mapped by several processes at once and, for
// the file backend, persists across restarts of the relay: fixed-width fields
// only, offsets instead of pointers, no Boost containers or allocators.
//
// Segment map (all offsets relative to the start of the segment):
//
//   store_header                         one page
//   worker_slot[max_worker_slots]        per worker process: pid, connections, counters
//   rate_entry[rate_table_entries]       lock-free token buckets (D-11)
//   nonce_entry[nonce_table_entries]     lock-free handshake nonce window (§5, D-10)
//   address_entry[max_worker_slots][address_table_entries]
//                                        connections per source address, per worker
//   notify_ring[max_worker_slots]        cross-worker notifications (DESIGN §3)
//   shard 0 .. shard_count-1             each: shard_header, page table, mailbox
//                                        table, presence table, arena of pages
//
// Crash safety (DESIGN §2): inside a shard the chunk headers in the arena are the
// truth. Everything else in shard_header/page table/mailbox table is derived and
// can be rebuilt by scanning the arena (shm/shard_repair.cpp).

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
inline constexpr std::uint32_t layout_version = 2;

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
// (min_chunk_size << c) bytes. A blob is a head chunk of the smallest class that
// fits, or, above the largest class, a chain of largest-class chunks.

inline constexpr std::uint32_t min_chunk_shift = 8; // 256 bytes
inline constexpr std::uint32_t class_count = 9;     // 256 B .. 64 KiB
inline constexpr std::uint8_t page_unassigned = 0xff;

constexpr std::uint64_t chunk_size_of_class(std::uint32_t cls) { return std::uint64_t{1} << (min_chunk_shift + cls); }
static_assert(chunk_size_of_class(class_count - 1) == page_size);

/// What a stored record is. Each kind has its own mailboxes (the same 64-char
/// key can name an update mailbox and a device-sync mailbox), its own expiry
/// and its own delivery path (PROTOCOL §7.3, §7.6, §7.8).
enum class blob_kind : std::uint8_t {
    update = 0,         ///< EncryptedUpdate / AccountRevoked for a routing id
    device_sync = 1,    ///< DeviceSyncMessage for a client_id (data: device_sync_record)
    recovery_proof = 2, ///< RecoveryProofStore under a lowercase key_hash
    count_
};
inline constexpr std::size_t blob_kind_count = static_cast<std::size_t>(blob_kind::count_);

enum class chunk_state : std::uint32_t {
    free = 0,         ///< unused (also what a fresh zero-filled page contains)
    writing = 1,      ///< head being written: invisible, freed by repair
    committed = 2,    ///< head of a stored blob: the commit point (release store)
    continuation = 3, ///< second or later chunk of a blob; alive only if reachable from a committed head
};

/// Header at the start of every chunk.
struct chunk_header {
    std::atomic<std::uint32_t> state; ///< chunk_state
    std::uint8_t size_class;          ///< must equal the page's class, else the header is stale
    std::uint8_t flags;               ///< blob_flag_*; head only
    std::uint16_t sender_message_id_len; ///< head only
    std::uint32_t bytes_here;         ///< payload bytes (blob data) stored in this chunk
    std::uint8_t kind;                ///< blob_kind; head only
    std::uint8_t reserved[3];
    std::uint64_t seq;                ///< per-shard blob sequence; continuations carry their head's
    std::uint64_t next;               ///< offset of the next chunk of this blob, 0 = last
    std::uint64_t mailbox_next;       ///< derived: offset of the next blob head of the mailbox, 0 = last
};
static_assert(sizeof(chunk_header) == 40);

inline constexpr std::uint8_t blob_flag_has_sender = 1;     ///< sender routing id + message id recorded (D-7)
inline constexpr std::uint8_t blob_flag_delivered_sent = 2; ///< the Delivered ack was already emitted (D-7)

/// Metadata that follows the chunk_header in a head chunk; then the sender
/// message id bytes, then the first part of the blob data.
struct blob_meta {
    char recipient[key_size];
    char sender[key_size];
    std::uint8_t blob_id[16];
    std::uint64_t created_unix;
    std::uint64_t total_bytes; ///< blob data length
};
static_assert(sizeof(blob_meta) == 160);

inline constexpr std::size_t head_overhead = sizeof(chunk_header) + sizeof(blob_meta);

// ---------------------------------------------------------------------------
// Derived per-shard indexes (rebuilt by repair).

/// One recipient's queue of blobs, in arrival (seq) order.
struct mailbox_entry {
    char key[key_size];
    std::uint64_t head;        ///< offset of the oldest blob's head chunk
    std::uint64_t tail;        ///< offset of the newest blob's head chunk
    std::uint64_t quota_bytes; ///< Σ (data length + 36 + 8), PROTOCOL §10.4
    std::uint32_t count;
    std::uint16_t used;        ///< 1 = slot in use (linear probing, backward-shift deletion)
    std::uint8_t kind;         ///< blob_kind: part of the lookup key
    std::uint8_t reserved;
};
static_assert(sizeof(mailbox_entry) == 96);

/// Live connections of one routing id, per worker slot (D-4, DESIGN §3). Soft
/// state: a dead worker's counts are reset by the supervisor.
struct presence_entry {
    char key[key_size];
    std::uint16_t used;
    std::uint8_t kind;         ///< always blob_kind::update (shares the table code with mailboxes)
    std::uint8_t reserved;
    std::uint32_t total;
    std::uint16_t per_slot[max_worker_slots];
};
static_assert(sizeof(presence_entry) == 200);

struct shard_header {
    robust_mutex lock;
    std::uint32_t index;
    std::uint32_t page_count;
    std::uint64_t page_table_offset;   ///< std::uint8_t class per page
    std::uint64_t mailbox_offset;      ///< mailbox_entry[mailbox_capacity]
    std::uint64_t presence_offset;     ///< presence_entry[presence_capacity]
    std::uint64_t arena_offset;        ///< page_count pages
    std::uint32_t mailbox_capacity;    ///< power of two
    std::uint32_t presence_capacity;   ///< power of two
    // ---- derived (repair rebuilds these) ----
    std::uint64_t next_seq;
    std::uint64_t free_head[class_count]; ///< free chunk lists, linked through chunk_header::next
    std::uint64_t blob_count;          ///< all kinds
    std::uint64_t kind_count[blob_kind_count];
    std::uint64_t data_bytes;          ///< Σ blob data lengths
    std::uint64_t chunk_bytes;         ///< Σ chunk sizes of live blobs
    std::uint32_t mailbox_used;
    std::uint32_t presence_used;
    // ---- statistics (not derived, informative) ----
    std::atomic<std::uint64_t> repairs;
};

// ---------------------------------------------------------------------------
// Soft, lock-free state.

/// Counters a worker keeps about itself; the metrics endpoint sums them.
enum class counter : std::uint32_t {
    connections_total,
    connection_errors_total,
    connections_rejected_limit,
    connections_rejected_per_ip,
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
    handshakes_rejected_total,      ///< invalid handshakes ([CLOSE]), nonce replays included
    nonce_replays_total,
    device_sync_stored_total,
    device_sync_delivered_total,
    recovery_proofs_stored_total,   ///< exported as relay_recovery_vouchers_total
    recovery_queries_total,
    recovery_rate_limited_total,
    purges_total,
    noise_sessions_total,
    noise_decrypt_failures_total,
    noise_frames_skipped_total,     ///< frames too large to encrypt (Q-8)
    count_
};
inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);

/// relay_message_duration_seconds uses Prometheus' default buckets (PROTOCOL §11.3).
inline constexpr double duration_bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
inline constexpr std::size_t duration_bucket_count = std::size(duration_bucket_bounds);

struct alignas(64) worker_slot {
    std::atomic<std::int32_t> pid;         ///< 0 when the slot has no live process
    std::atomic<std::uint32_t> generation; ///< bumped at each (re)spawn
    std::atomic<std::uint64_t> heartbeat_ms;
    std::atomic<std::uint64_t> connections; ///< admitted TCP connections now open in this worker
    std::atomic<std::uint64_t> counters[counter_count];
    /// Handling time of post-handshake messages: per bucket (not cumulative;
    /// the last entry is +Inf), and the sum in nanoseconds.
    std::atomic<std::uint64_t> duration_buckets[duration_bucket_count + 1];
    std::atomic<std::uint64_t> duration_sum_ns;
};

/// One remembered handshake nonce (PROTOCOL §5, D-10, D-11): 44 bits of a
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

enum class notify_kind : std::uint8_t {
    push_blob = 1,          ///< a blob was stored for a routing id live on this worker (D-5)
    delivered = 2,          ///< tell a sender its blob reached the recipient (D-6)
    received_by_recipient = 3, ///< forward the recipient's receipt (D-7)
};

struct notify_entry {
    std::uint8_t kind;
    std::uint8_t message_id_len;
    std::uint16_t reserved;
    std::uint32_t shard;        ///< push_blob: shard of the blob
    std::uint64_t blob_offset;  ///< push_blob: head chunk offset
    std::uint64_t blob_seq;     ///< push_blob: to detect a reused chunk
    char routing_id[key_size];  ///< whose connections on this worker get it
    char message_id[max_sender_message_id];
};

inline constexpr std::uint32_t notify_ring_capacity = 256;

/// Bounded multi-producer ring of one worker slot. A full ring drops the
/// notification (best effort, DESIGN §3); a producer that dies inside the lock
/// only costs the ring's contents (it is reset).
struct notify_ring {
    robust_mutex lock;
    std::uint64_t head; ///< next entry to read
    std::uint64_t tail; ///< next entry to write
    std::atomic<std::uint64_t> dropped;
    notify_entry entries[notify_ring_capacity];
};

struct store_header {
    std::uint32_t magic; ///< written last at creation
    std::uint32_t version;
    std::uint64_t fingerprint;
    std::uint64_t total_size;
    std::uint64_t created_unix;
    std::uint64_t epoch_unix;      ///< time origin of rate-limit timestamps
    std::uint64_t hash_seed;       ///< keys the rate-limit hash
    std::uint32_t shard_count;     ///< power of two
    std::uint32_t rate_table_entries; ///< power of two
    std::uint64_t arena_bytes;     ///< capacity for blobs (RELAY_MAX_STORAGE_BYTES rounded)
    std::uint64_t slots_offset;
    std::uint64_t rate_offset;
    std::uint64_t rings_offset;
    std::uint64_t nonces_offset;   ///< nonce_entry[nonce_table_entries]
    std::uint64_t addresses_offset; ///< address_entry[max_worker_slots][address_table_entries]
    std::uint64_t shards_offset;   ///< shard_header[shard_count], then each shard's tables
    std::atomic<std::uint32_t> clean_shutdown; ///< 1 while no process has it open for writing
    std::atomic<std::uint64_t> opened_count;
    std::atomic<std::uint64_t> last_sweep_unix;
    std::atomic<std::uint64_t> blobs_expired_total; ///< counted by the cleanup process
};

static_assert(std::is_standard_layout_v<chunk_header>);
static_assert(std::is_standard_layout_v<store_header>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// Combines the layout version with the size and alignment of every shared
/// struct, so that a binary built with different struct shapes refuses the store.
constexpr std::uint64_t layout_fingerprint()
{
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(layout_version);
    mix(sizeof(chunk_header)); mix(alignof(chunk_header));
    mix(sizeof(blob_meta)); mix(sizeof(mailbox_entry)); mix(sizeof(presence_entry));
    mix(sizeof(shard_header)); mix(alignof(shard_header));
    mix(sizeof(worker_slot)); mix(alignof(worker_slot));
    mix(sizeof(rate_entry)); mix(sizeof(nonce_entry)); mix(nonce_table_entries);
    mix(sizeof(address_entry)); mix(address_table_entries); mix(blob_kind_count);
    mix(sizeof(notify_entry)); mix(sizeof(notify_ring));
    mix(sizeof(store_header)); mix(sizeof(robust_mutex));
    mix(max_worker_slots); mix(page_size); mix(class_count); mix(min_chunk_shift);
    mix(notify_ring_capacity); mix(counter_count); mix(duration_bucket_count);
    return h;
}

} // namespace relay::shm
