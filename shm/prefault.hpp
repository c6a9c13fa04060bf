#pragma once
// Faulting the store in at start (RELAY_STORE_PREFAULT: steadier latency, README.md).
//
// In a fresh store no page is in memory yet (the file's blocks are reserved
// but never written; shm pages are allocated but unmapped): the first write to
// each 4 KiB page costs a page fault in which the kernel finds and zeroes it, and on a virtual machine the host may have to back the memory as well.
// Measured on the benchmark machine, that first touch was ~11 us per page and a
// quarter of the server CPU of storing 4 KiB updates into a fresh store; it
// also puts multi-millisecond stalls into the ack latency. Prefaulting moves
// that cost to start-up, where it is reported as progress.
//
// The file backend is populated for reading: clean page-cache pages over
// blocks reserved but never written (space_reservation.hpp), nothing to write
// back; the first write to a page is then a cheap write-enable fault. The
// memory backend is populated for writing (its pages are RAM either way).

#include <cstddef>
#include <cstdint>
#include <functional>

namespace relay::shm {

/// Called now and then with bytes done and total.
using prefault_progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// Faults in [base, base + size) (page aligned). `for_writing` populates
/// writable pages. Uses MADV_POPULATE_READ/WRITE (Linux 5.14+) and falls back
/// to touching one byte per page on older kernels. Returns false, with
/// errno set, if the kernel refused the memory (ENOMEM: not enough RAM).
bool prefault(std::uint8_t* base, std::uint64_t size, bool for_writing, prefault_progress const& progress);

} // namespace relay::shm
