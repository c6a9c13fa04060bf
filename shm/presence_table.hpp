#pragma once
// Presence: which worker slots have a live connection of a routing id
// (docs/store.md, "Presence"). One open-addressing table for the whole store,
// under its own robust lock, taken inside a shard lock (lock order: shard,
// then presence) so that a put and an attach of the same routing id see each
// other atomically. One table rather than one per shard: the number of
// entries is bounded by the connections the relay admits, so a table sized
// for RELAY_MAX_CONNECTIONS can never be full, whatever shards the routing
// ids fall in.

#include <cstdint>
#include <string>
#include <string_view>

#include "shm/check_result.hpp"
#include "shm/layout.hpp"

namespace relay::shm {

class presence_table {
public:
    explicit presence_table(std::uint8_t* base) noexcept;

    presence_header& header() const noexcept { return *header_; }
    presence_entry* entries() const noexcept { return entries_; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    /// Entries the table accepts (a quarter stays free so probe runs stay short).
    static std::uint32_t usable(std::uint32_t capacity) noexcept { return capacity / 4 * 3; }

    /// Starts loading the cache lines where `key`'s lookup begins. A hint only.
    void prefetch(std::string_view key) const noexcept;

    // Under the presence lock (presence_guard):
    presence_entry* find_locked(std::string_view key) const;
    /// nullptr only if the table is full.
    presence_entry* find_or_add_locked(std::string_view key);
    void erase_locked(presence_entry* entry);
    /// Forgets every connection of worker `slot` (its process died).
    void reset_slot_locked(std::uint32_t slot);
    /// Rebuilds the table from its own entries after a holder died in the
    /// middle of a change (a backward shift can leave an entry twice).
    void rebuild_locked();
    check_result check_locked() const;
    /// Empties the table (start: no connection of a previous run is live).
    void clear_locked();

    void reinit_lock();

    static std::uint64_t slot_mask(presence_entry const& e) noexcept;

private:
    std::uint32_t home(std::string_view key) const noexcept;

    presence_header* header_;
    presence_entry* entries_;
    std::uint32_t capacity_;
    std::uint64_t seed_;
};

/// Holds the presence lock for a scope, rebuilding the table first if the
/// previous holder died inside it (always provable: presence is soft state).
class presence_guard final {
public:
    explicit presence_guard(presence_table& table);
    ~presence_guard();
    presence_guard(presence_guard const&) = delete;
    presence_guard& operator=(presence_guard const&) = delete;

private:
    presence_table& table_;
};

} // namespace relay::shm
