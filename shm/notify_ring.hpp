#pragma once
// Cross-worker notifications (docs/architecture.md#design-3): one bounded ring per worker slot in
// the store plus one eventfd per slot created by the supervisor before fork.
// A producer appends under the ring's robust lock and writes the target's
// eventfd; the target drains its ring when the eventfd becomes readable.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "shm/layout.hpp"

namespace relay::shm {

class notify_rings {
public:
    notify_rings(std::uint8_t* base, store_header const& header) noexcept;

    /// Appends to `slot`'s ring; false (and counted) if the ring is full.
    bool post(std::uint32_t slot, notify_entry const& entry);
    struct drained {
        std::vector<notify_entry> entries;
        /// Entries for `slot` were dropped (its ring was full) or wiped (a
        /// reset) since the previous drain by this object: every local
        /// connection must catch up (worker/push_tracker.hpp).
        bool lost = false;
    };
    /// Takes everything queued for `slot`.
    drained drain(std::uint32_t slot);
    /// Empties a dead worker's ring (its notifications had nobody to go to).
    void reset(std::uint32_t slot);
    /// Takes and releases every ring's lock, so that a ring whose lock a dead
    /// process held is repaired now rather than at its next use.
    void recover_all();
    void reinit_locks();
    /// Entries dropped or wiped from `slot`'s ring, ever.
    std::uint64_t dropped(std::uint32_t slot) const;

    static notify_entry make(notify_kind kind, std::string_view routing_id, std::string_view message_id);

private:
    notify_ring& ring(std::uint32_t slot) const noexcept;
    std::uint8_t* base_;
    std::uint64_t rings_offset_;
    /// The drained ring's `dropped` count at the previous drain.
    std::uint64_t seen_dropped_ = 0;
};

} // namespace relay::shm
