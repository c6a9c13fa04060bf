#include "shm/prefault.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

// glibc 2.36 may predate the constants; the values are the kernel's ABI.
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace relay::shm {
namespace {

/// Per madvise call: small enough for regular progress, large enough that
/// the calls themselves cost nothing.
constexpr std::uint64_t step_bytes = 64u << 20;

/// The fallback of kernels without MADV_POPULATE_*: touch each page. A write
/// of the byte it already holds would race with a worker writing the same
/// byte, so the write path only reads and then relies on the write fault.
void touch_pages(std::uint8_t* first, std::uint64_t size, std::uint64_t page)
{
    for (std::uint64_t off = 0; off < size; off += page)
        (void)std::atomic_ref<std::uint8_t>(first[off]).load(std::memory_order_relaxed);
}

} // namespace

bool prefault(std::uint8_t* base, std::uint64_t size, bool for_writing, prefault_progress const& progress)
{
    auto const page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    bool use_madvise = true;
    for (std::uint64_t done = 0; done < size;) {
        std::uint64_t const n = std::min(step_bytes, size - done);
        if (use_madvise && ::madvise(base + done, n, for_writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
            if (errno != EINVAL)
                return false;    // ENOMEM, EFAULT, EHWPOISON: nothing a retry would fix
            use_madvise = false; // kernel before 5.14
        }
        if (!use_madvise)
            touch_pages(base + done, n, page);
        done += n;
        if (progress)
            progress(done, size);
    }
    return true;
}

} // namespace relay::shm
