#pragma once
// Reading a store of layout version 2, the format of every release before
// Store v2, so that its records can be carried into a new store
// (docs/store.md, "Upgrades from layout 2"). Read-only, and safe on any
// bytes: every offset is bounds-checked before it is followed.

#include <cstdint>
#include <functional>

#include "shm/stored_record.hpp"

namespace relay::shm::legacy2 {

struct read_stats {
    std::uint64_t records = 0; ///< committed records whose chunks read back, handed to the sink
    std::uint64_t dropped = 0; ///< committed heads whose chains did not read back
};

/// Calls `sink` for every record of the layout-2 store mapped at `base`
/// (`size` bytes), shard by shard, each mailbox in arrival order;
/// `progress(done, total)` after each shard. Throws open_error (with what to
/// do) if the header does not describe a layout-2 store of this size.
read_stats read_records(std::uint8_t const* base, std::uint64_t size,
                        std::function<void(stored_record const&)> const& sink,
                        std::function<void(std::uint32_t, std::uint32_t)> const& progress = {});

} // namespace relay::shm::legacy2
