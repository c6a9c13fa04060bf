#pragma once
// Internal view of one shard of the store: chunk allocation, the mailbox and
// presence tables, repair. Every *_locked function requires the caller to hold
// the shard's lock (through shard_guard). Not part of the store's public API.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shm/layout.hpp"

namespace relay::shm {

/// Seeded 64-bit hash of a 64-character key (tables and rate buckets).
std::uint64_t key_hash(std::uint64_t seed, std::string_view key) noexcept;
/// Hash of a (kind, key) table key: kinds never share a probe sequence by design.
std::uint64_t table_hash(std::uint64_t seed, blob_kind kind, std::string_view key) noexcept;

class shard_view {
public:
    shard_view(std::uint8_t* base, shard_header& header, std::uint64_t seed) noexcept
        : base_(base), h_(header), seed_(seed) {}

    shard_header& header() const noexcept { return h_; }
    chunk_header* chunk(std::uint64_t offset) const noexcept { return reinterpret_cast<chunk_header*>(base_ + offset); }
    blob_meta* meta(std::uint64_t head) const noexcept { return reinterpret_cast<blob_meta*>(base_ + head + sizeof(chunk_header)); }
    std::uint8_t* page_table() const noexcept { return base_ + h_.page_table_offset; }
    mailbox_entry* mailboxes() const noexcept { return reinterpret_cast<mailbox_entry*>(base_ + h_.mailbox_offset); }
    presence_entry* presences() const noexcept { return reinterpret_cast<presence_entry*>(base_ + h_.presence_offset); }

    std::uint64_t page_offset(std::uint32_t page) const noexcept { return h_.arena_offset + std::uint64_t{page} * page_size; }
    /// True if `offset` is the start of a chunk on an assigned page's grid.
    bool is_chunk_offset(std::uint64_t offset) const noexcept;

    // ---- chunks ----
    /// Pops a free chunk of class `cls`, assigning a fresh page if needed; 0 if
    /// none is left. Never rebuilds (a rebuild would hand back chunks the caller
    /// already popped); callers reclaim empty pages with rebuild_locked(true).
    std::uint64_t alloc_chunk_locked(std::uint32_t cls);
    void free_chunk_locked(std::uint64_t offset);
    /// Frees every chunk of a blob whose head is already un-committed.
    void free_chain_locked(std::uint64_t head);

    /// Starts loading the cache lines where `key`'s mailbox (of `kind`) and
    /// presence lookups begin, before the lock is taken: both tables are far
    /// larger than the cache, so each lookup otherwise waits for memory in
    /// turn. A hint only; needs no lock (the table geometry never changes).
    void prefetch_lookups(blob_kind kind, std::string_view key) const noexcept;

    // ---- mailboxes ((kind, key) → blob queue) ----
    mailbox_entry* find_mailbox_locked(blob_kind kind, std::string_view key) const;
    /// nullptr when the table is full (the store answers Failed).
    mailbox_entry* find_or_add_mailbox_locked(blob_kind kind, std::string_view key);
    void erase_mailbox_locked(mailbox_entry* entry);

    // ---- presence (routing id → live connections per worker slot) ----
    presence_entry* find_presence_locked(std::string_view key) const;
    presence_entry* find_or_add_presence_locked(std::string_view key);
    void erase_presence_locked(presence_entry* entry);
    static std::uint64_t slot_mask(presence_entry const& e) noexcept;

    // ---- blobs ----
    /// Un-commits a blob, unlinks it from its mailbox (prev = previous head or 0)
    /// and frees its chunks. The single release store on the head's state is the
    /// point after which the blob no longer exists (DESIGN §2.3).
    void delete_blob_locked(mailbox_entry* box, std::uint64_t prev, std::uint64_t head);

    // ---- repair (shard_repair.cpp) ----
    /// Rebuilds every derived structure from the chunk headers. Returns the
    /// number of committed blobs kept. Sets `dropped` to heads whose chains were
    /// unreadable (which can only come from memory corruption, not from a crash).
    std::uint64_t rebuild_locked(bool release_empty_pages, std::uint64_t& dropped);
    /// Verifies every invariant; false with a reason if one fails.
    bool check_locked(std::string& why) const;

private:
    template <class Entry>
    Entry* find_in_locked(Entry* table, std::uint32_t capacity, blob_kind kind, std::string_view key) const;
    bool assign_page_locked(std::uint32_t cls);
    void rebuild_presence_locked();

    std::uint8_t* base_;
    shard_header& h_;
    std::uint64_t seed_;
};

/// Whether a repair that had to drop committed blobs ends the process (exit
/// code 3, so the supervisor escalates; the default, for workers and cleanup)
/// or only logs (the supervisor itself, whose caller escalates or continues).
void set_unprovable_repair_fatal(bool fatal);
/// How many repairs in this process could not be proven consistent.
std::uint64_t unprovable_repairs_seen();

/// Holds a shard's lock for a scope. If the previous holder died inside the
/// critical section, the shard is rebuilt from its chunks before the caller
/// sees it (DESIGN §2.2–2.3).
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
