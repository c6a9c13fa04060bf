#pragma once
// Putting the records on stable storage (docs/store.md, "Durability to
// disk"). Only the arena is flushed: everything in the tail (page
// descriptors, lists, mailbox buckets, counters, rate buckets, presence) is
// derived or soft state that recovery rebuilds at start, and the header's
// identity is flushed by the supervisor once the store is ready (created,
// grown or repaired), before any worker writes a record. The
// tail's pages are the hottest of the store (counters change with every
// message): an fdatasync of the whole file wrote them back at every flush
// and write-protected them again, so the next write to each took a page
// fault (bench/README.md, "Store v2").

#include <cstdint>

namespace relay::shm {

/// msync(MS_SYNC) of the arena of the store mapped at `base`: every record
/// written before the call is on stable storage when it returns 0. Returns
/// an errno value otherwise.
int flush_records(std::uint8_t* base) noexcept;

/// msync(MS_SYNC) of the store header's page (identity, seeds, geometry and
/// its copy): after a store is created, grown or its header restored, before
/// any record depends on it. Returns 0 or an errno value.
int flush_header(std::uint8_t* base) noexcept;

} // namespace relay::shm
