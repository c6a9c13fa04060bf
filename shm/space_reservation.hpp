#pragma once
// Reserving the whole store in its filesystem when it is opened.
//
// The file store is a shared mapping of a file created sparse. A write to a
// page the filesystem cannot back (disk full, quota) is no error return: the
// kernel kills the writing worker with SIGBUS, and every respawned worker dies
// the same way at its first store (seen with a 20 MiB tmpfs under a 64 MiB
// store). Allocating the full size at start (fallocate: extents marked
// unwritten, no data written, milliseconds per GiB on ext4) turns that into a
// refusal to start that names the shortfall. (The memory store needs nothing
// of this: Boost sizes a shm object with posix_fallocate.) Measured on the
// benchmark machine, it neither costs nor saves CPU per stored update.

#include <cstdint>
#include <string>

namespace relay::shm {

struct reservation {
    int error = 0; ///< 0: reserved; otherwise the errno of fallocate

    bool reserved() const noexcept { return error == 0; }
    /// The filesystem cannot allocate ahead (EOPNOTSUPP): the store stays sparse.
    bool unsupported() const noexcept;
};

/// Allocates [0, size) of the open file `fd` (its size already set).
reservation reserve_space(int fd, std::uint64_t size);

/// Bytes an unprivileged writer may still allocate in the filesystem of `path`
/// (0 if that cannot be read).
std::uint64_t available_bytes(std::string const& path);

} // namespace relay::shm
