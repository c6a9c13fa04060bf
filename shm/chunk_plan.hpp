#pragma once
// How a record is cut into chunks (store bytes per payload byte: docs/store.md).
//
// Chunk sizes are powers of two (layout.hpp), so one chunk that fits a record
// can waste nearly half of it: a 4 KiB ciphertext plus its ~240-byte head
// would take an 8 KiB chunk. Instead, while the smallest fitting chunk would
// waste more than an eighth of what it holds, the record takes the largest
// chunk that it fills completely and continues in the next one. Every part
// but the last is full, and the last wastes at most 1/8 (or is of the
// smallest class), so a record takes at most ~1.13x its bytes plus one
// 40-byte header per extra chunk. The chain format is the one repair already
// checks (any class for any part), so the plan changes no layout.

#include <boost/container/small_vector.hpp>

#include <cstdint>

#include "shm/layout.hpp"

namespace relay::shm {

/// One chunk of a record: its size class and the data bytes it holds.
struct chunk_part {
    std::uint32_t size_class;
    std::uint64_t data_bytes;
};

/// A head chunk always holds the record's first bytes up to this many (or
/// all of them): readers look at a record's prefix in its head without
/// walking the chain (device_sync_record's 136-byte prefix).
inline constexpr std::uint64_t head_data_min = 256;

/// Inline room for records up to ~450 KiB; larger ones allocate.
using chunk_plan = boost::container::small_vector<chunk_part, 8>;

/// The chunks of a record of `data_bytes` bytes whose head chunk also holds
/// `head_fixed` bytes (chunk header, metadata, sender message id). The head
/// is parts.front().
chunk_plan plan_chunks(std::uint64_t head_fixed, std::uint64_t data_bytes);

/// Bytes of chunks a plan takes.
std::uint64_t chunk_bytes_of(chunk_plan const& plan);

} // namespace relay::shm
