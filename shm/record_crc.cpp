#include "shm/record_crc.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace relay::shm {
namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82f63b78u;

constexpr std::array<std::uint32_t, 256> make_table()
{
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ castagnoli_reflected : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto table = make_table();

std::uint32_t extend_bytewise(std::uint32_t crc, std::uint8_t const* p, std::size_t n) noexcept
{
    for (std::size_t i = 0; i < n; ++i)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc, std::uint8_t const* p,
                                                             std::size_t n) noexcept
{
    std::uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; n > 0; --n, ++p)
        c32 = _mm_crc32_u8(c32, *p);
    return c32;
}

bool cpu_has_sse42() noexcept
{
    static bool const has = __builtin_cpu_supports("sse4.2");
    return has;
}
#endif

} // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, void const* data, std::size_t n) noexcept
{
    auto const* p = static_cast<std::uint8_t const*>(data);
#if defined(__x86_64__)
    if (cpu_has_sse42())
        return extend_sse42(crc, p, n);
#endif
    return extend_bytewise(crc, p, n);
}

bool crc32c_in_hardware() noexcept
{
#if defined(__x86_64__)
    return cpu_has_sse42();
#else
    return false;
#endif
}

record_checksum::record_checksum(std::uint64_t seed, chunk_header const& head, blob_meta const& meta) noexcept
    : crc_(~0u)
{
    // Fixed order and widths, independent of struct padding.
    std::uint8_t fixed[8 + 4];
    std::memcpy(fixed, &seed, 8);
    fixed[8] = head.kind;
    fixed[9] = head.record_flags;
    std::memcpy(fixed + 10, &head.sender_message_id_len, 2);
    add(fixed, sizeof fixed);
    add(&meta, blob_meta_immutable);
}

} // namespace relay::shm
