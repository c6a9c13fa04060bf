#include "shm/record_flush.hpp"

#include <sys/mman.h>

#include <cerrno>

#include "shm/layout.hpp"

namespace relay::shm {

int flush_records(std::uint8_t* base) noexcept
{
    auto const& h = *reinterpret_cast<store_header const*>(base);
    // The arena starts one 64 KiB page into the mapping, so the range is
    // page-aligned as msync requires.
    if (::msync(base + h.arena_offset, h.arena_bytes, MS_SYNC) != 0)
        return errno;
    return 0;
}

int flush_header(std::uint8_t* base) noexcept
{
    auto const& h = *reinterpret_cast<store_header const*>(base);
    if (::msync(base, h.arena_offset, MS_SYNC) != 0)
        return errno;
    return 0;
}

} // namespace relay::shm
