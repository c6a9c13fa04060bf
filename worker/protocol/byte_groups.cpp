#include "worker/protocol/byte_groups.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAY_BYTE_GROUPS 1
#endif

namespace relay::protocol::detail {

#if RELAY_BYTE_GROUPS
namespace {

/// Shuffle for lengths (l0..l3): lane i (bytes 4i..4i+3) receives number i's
/// digits right-aligned, [0, hundreds, tens, units]; 0x80 bytes become zero.
using shuffle = std::array<std::uint8_t, 16>;

constexpr std::array<shuffle, 81> make_shuffles()
{
    std::array<shuffle, 81> table{};
    for (unsigned index = 0; index < 81; ++index) {
        shuffle& s = table[index];
        for (auto& b : s)
            b = 0x80;
        unsigned rest = index;
        unsigned offset = 0; // first digit of number i in the 16 loaded bytes
        for (unsigned lane = 0; lane < 4; ++lane) {
            unsigned const length = rest % 3 + 1;
            rest /= 3;
            for (unsigned k = 0; k < length; ++k) // units into byte 3, tens into 2, hundreds into 1
                s[lane * 4 + 3 - k] = static_cast<std::uint8_t>(offset + length - 1 - k);
            offset += length + 1; // digits and the separator
        }
    }
    return table;
}

alignas(16) constexpr std::array<shuffle, 81> shuffles = make_shuffles();

} // namespace

bool byte_groups_supported() noexcept
{
    static bool const supported = __builtin_cpu_supports("ssse3");
    return supported;
}

namespace {

__attribute__((target("ssse3"), always_inline)) inline bool convert_four(char const* text, std::size_t first_start,
                                                                       std::uint32_t const* separators,
                                                                       std::uint8_t* dst) noexcept
{
    auto const first = static_cast<std::uint32_t>(first_start);
    unsigned const l0 = separators[0] - first;
    unsigned const l1 = separators[1] - separators[0] - 1;
    unsigned const l2 = separators[2] - separators[1] - 1;
    unsigned const l3 = separators[3] - separators[2] - 1;
    unsigned const index = (l0 - 1) + 3 * (l1 - 1) + 9 * (l2 - 1) + 27 * (l3 - 1);
    __m128i const chars = _mm_loadu_si128(reinterpret_cast<__m128i const*>(text + first_start));
    __m128i const digits = _mm_sub_epi8(chars, _mm_set1_epi8('0'));
    __m128i const lanes =
        _mm_shuffle_epi8(digits, _mm_load_si128(reinterpret_cast<__m128i const*>(shuffles[index].data())));
    // [0, h, t, u] per lane -> 16-bit (0*0 + 100h, 10t + u) -> 32-bit 100h + 10t + u.
    __m128i const pairs = _mm_maddubs_epi16(lanes, _mm_setr_epi8(0, 100, 10, 1, 0, 100, 10, 1, 0, 100, 10, 1, 0, 100, 10, 1));
    __m128i const values = _mm_madd_epi16(pairs, _mm_set1_epi16(1));
    bool const in_range = _mm_movemask_epi8(_mm_cmpgt_epi32(values, _mm_set1_epi32(255))) == 0;
    __m128i const low_bytes =
        _mm_shuffle_epi8(values, _mm_setr_epi8(0, 4, 8, 12, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128));
    std::uint32_t const four = static_cast<std::uint32_t>(_mm_cvtsi128_si32(low_bytes));
    std::memcpy(dst, &four, 4);
    return in_range;
}

} // namespace

__attribute__((target("ssse3"))) groups_done convert_element_groups(char const* text, char const* text_end,
                                                                   std::size_t element_start,
                                                                   std::uint32_t const* separators, std::size_t count,
                                                                   std::uint8_t* dst) noexcept
{
    groups_done done{0, element_start, true};
    while (count - done.separators >= 4 && text_end - (text + done.element_start) >= 16) {
        if (!convert_four(text, done.element_start, separators + done.separators, dst + done.separators)) {
            done.in_range = false;
            return done;
        }
        done.element_start = separators[done.separators + 3] + 1;
        done.separators += 4;
    }
    return done;
}

#else

bool byte_groups_supported() noexcept { return false; }

groups_done convert_element_groups(char const*, char const*, std::size_t element_start, std::uint32_t const*,
                                   std::size_t, std::uint8_t*) noexcept
{
    return {0, element_start, true};
}

#endif

} // namespace relay::protocol::detail
