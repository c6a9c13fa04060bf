#include "worker/protocol/array_digits.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAY_ARRAY_DIGITS_SSSE3 1
#endif

namespace relay::protocol::detail {
namespace {

array_digits_path path_limit = array_digits_path::avx2;

/// Bits of a 64-byte block of array text, bit i for byte i: `separators`
/// marks ',', `invalid` every byte that is neither ',' nor a digit, `zeros`
/// the digit '0'.
struct block_masks {
    std::uint64_t separators;
    std::uint64_t invalid;
    std::uint64_t zeros;
};

/// One byte at a time: what CPUs without SIMD use (and what the tests check
/// the SIMD classification against, through the scalar path).
inline block_masks classify_block_scalar(char const* block) noexcept
{
    block_masks m{0, 0, 0};
    for (int i = 0; i < 64; ++i) {
        char const c = block[i];
        m.separators |= std::uint64_t{c == ','} << i;
        m.invalid |= std::uint64_t{c != ',' && (c < '0' || c > '9')} << i;
        m.zeros |= std::uint64_t{c == '0'} << i;
    }
    return m;
}

/// The shape rules, checked a block at a time on its masks. Bit 63 of one
/// block's masks carries into bit 0 of the next; '[' counts as a separator
/// before the first element.
class shape_rules {
public:
    /// False if the block (its bits in `in_array`) breaks a rule.
    bool accept(block_masks const& m, std::uint64_t in_array) noexcept
    {
        std::uint64_t const s = m.separators;
        std::uint64_t const d = ~s & ~m.invalid & in_array; // digits
        std::uint64_t const after_separator = (s << 1) | (previous_separators_ >> 63);
        // Two separators in a row, or one right after '[': an empty element.
        std::uint64_t bad = m.invalid | (s & after_separator);
        // Four digits in a row.
        std::uint64_t const d1 = (d << 1) | (previous_digits_ >> 63);
        std::uint64_t const d2 = (d << 2) | (previous_digits_ >> 62);
        std::uint64_t const d3 = (d << 3) | (previous_digits_ >> 61);
        bad |= d & d1 & d2 & d3;
        // A leading zero followed by another digit.
        std::uint64_t const leading_zeros = m.zeros & after_separator;
        bad |= ((leading_zeros << 1) | previous_leading_zeros_) & d;
        previous_separators_ = s;
        previous_digits_ = d;
        previous_leading_zeros_ = leading_zeros >> 63;
        return bad == 0;
    }

private:
    std::uint64_t previous_separators_ = std::uint64_t{1} << 63;
    std::uint64_t previous_digits_ = 0;
    std::uint64_t previous_leading_zeros_ = 0;
};

/// One pass over the blocks: classify, check the rules, then let `Kernel`
/// convert the elements whose separators lie in the block. Each element is
/// converted at its separator from the characters before it, which may lie in
/// the previous block: the kernel reads up to three bytes before the block.
template <class Kernel>
inline std::size_t convert_blocks(char const* text, std::size_t n, std::uint8_t* out) noexcept
{
    shape_rules rules;
    std::uint8_t* dst = out;
    bool out_of_range = false;
    for (std::size_t base = 0; base <= n; base += 64) {
        std::size_t const left = n - base; // array bytes from base on; ']' is at base + left
        if (left >= 64) {
            block_masks const m = Kernel::classify(text + base);
            if (!rules.accept(m, ~std::uint64_t{0}))
                return 0;
            dst = Kernel::convert(text + base, m.separators, dst, out_of_range);
        } else {
            // The last block is copied with the three bytes before it, so that
            // no load runs past the text; the padding is outside the array.
            char tail[3 + 64]; // the kernels read tail[0] to tail[66]
            std::memcpy(tail, text + base - 3, 3 + left);
            std::memset(tail + 3 + left, ',', sizeof tail - 3 - left);
            block_masks m = Kernel::classify(tail + 3);
            std::uint64_t const in_array = (std::uint64_t{1} << left) - 1;
            // The closing bracket ends the last element; nothing after it counts.
            m.separators = (m.separators & in_array) | (std::uint64_t{1} << left);
            m.invalid &= in_array;
            m.zeros &= in_array;
            if (!rules.accept(m, in_array))
                return 0;
            dst = Kernel::convert(tail + 3, m.separators, dst, out_of_range);
        }
        if (out_of_range)
            return 0;
    }
    return static_cast<std::size_t>(dst - out);
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// One separator at a time. The rules guarantee a digit right before every
/// separator and at most three digits per element.
struct scalar_kernel {
    static block_masks classify(char const* block) noexcept { return classify_block_scalar(block); }

    static std::uint8_t* convert(char const* block, std::uint64_t separators, std::uint8_t* dst,
                                 bool& out_of_range) noexcept
    {
        unsigned all_values = 0;
        for (; separators != 0; separators &= separators - 1) {
            char const* const c = block + std::countr_zero(separators);
            bool const tens = is_digit(c[-2]);
            bool const hundreds = tens && is_digit(c[-3]);
            unsigned const value = static_cast<unsigned>(c[-1] - '0') +
                (tens ? 10 * static_cast<unsigned>(c[-2] - '0') : 0) +
                (hundreds ? 100 * static_cast<unsigned>(c[-3] - '0') : 0);
            all_values |= value; // above 255 iff some value is
            *dst++ = static_cast<std::uint8_t>(value);
        }
        out_of_range |= all_values > 255;
        return dst;
    }
};

std::size_t convert_scalar(char const* text, std::size_t n, std::uint8_t* out) noexcept
{
    return convert_blocks<scalar_kernel>(text, n, out);
}

#if RELAY_ARRAY_DIGITS_SSSE3

/// For each 8-bit mask, the shuffle that packs the bytes whose bits are set
/// to the front, in order.
struct pack_table {
    std::uint8_t shuffle[256][8];
    std::uint8_t count[256];
};

constexpr pack_table make_pack_table()
{
    pack_table t{};
    for (unsigned mask = 0; mask < 256; ++mask) {
        unsigned k = 0;
        for (unsigned bit = 0; bit < 8; ++bit)
            if (mask & (1u << bit))
                t.shuffle[mask][k++] = static_cast<std::uint8_t>(bit);
        t.count[mask] = static_cast<std::uint8_t>(k);
        for (; k < 8; ++k)
            t.shuffle[mask][k] = 0x80; // zero
    }
    return t;
}

alignas(64) constexpr pack_table pack = make_pack_table();

/// Packs the bytes of `values` whose bits are set in `lanes` (16 bits) to
/// `dst`, eight lanes at a time; each store writes 8 bytes, the caller's
/// slack covers the excess.
[[gnu::target("ssse3"), gnu::always_inline]] inline std::uint8_t* pack_values(__m128i values, unsigned lanes,
                                                                              std::uint8_t* dst) noexcept
{
    unsigned const low = lanes & 0xffu;
    unsigned const high = (lanes >> 8) & 0xffu;
    __m128i const packed_low =
        _mm_shuffle_epi8(values, _mm_loadl_epi64(reinterpret_cast<__m128i const*>(pack.shuffle[low])));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), packed_low);
    dst += pack.count[low];
    __m128i const packed_high = _mm_shuffle_epi8(_mm_srli_si128(values, 8),
                                                 _mm_loadl_epi64(reinterpret_cast<__m128i const*>(pack.shuffle[high])));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), packed_high);
    return dst + pack.count[high];
}

// Lane j of the vectors in the kernels below belongs to the character at j:
// if that character is a separator, the element ending there has its units at
// j-1, its tens at j-2 (if a digit) and its hundreds at j-3 (if that and j-2
// are digits). `pshufb` turns digits into tens and hundreds through 16-entry
// tables, and any non-digit into 0: ',' - '0' has the top bit set (pshufb
// writes 0), '[' - '0' = 0x2b picks entry 11, which is 0.
#define RELAY_TENS_OF 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 0, 0, 0, 0, 0, 0
// 100 * h mod 256; only 0..2 can be right (the penalty check catches the rest).
#define RELAY_HUNDREDS_OF 0, 100, static_cast<char>(200), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
// Chosen so that penalty + (10 t + u) saturates to 255 exactly when the
// element exceeds 255: h = 2 needs 10 t + u >= 56, h >= 3 always.
#define RELAY_PENALTY_OF 0, 0, static_cast<char>(199), -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0

/// Sixteen bytes of text at a time.
struct ssse3_kernel {
    [[gnu::target("ssse3")]] static block_masks classify(char const* block) noexcept
    {
        block_masks m{0, 0, 0};
        __m128i const comma = _mm_set1_epi8(',');
        __m128i const zero_char = _mm_set1_epi8('0');
        __m128i const nine = _mm_set1_epi8(9);
        for (int i = 0; i < 4; ++i) {
            __m128i const v = _mm_loadu_si128(reinterpret_cast<__m128i const*>(block + 16 * i));
            __m128i const is_comma = _mm_cmpeq_epi8(v, comma);
            __m128i const d = _mm_sub_epi8(v, zero_char);
            __m128i const is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d); // unsigned d <= 9
            __m128i const is_zero = _mm_cmpeq_epi8(v, zero_char);
            auto const commas = static_cast<std::uint32_t>(_mm_movemask_epi8(is_comma));
            auto const fine = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(is_comma, is_digit)));
            auto const zeros = static_cast<std::uint32_t>(_mm_movemask_epi8(is_zero));
            m.separators |= std::uint64_t{commas} << (16 * i);
            m.invalid |= std::uint64_t{~fine & 0xffffu} << (16 * i);
            m.zeros |= std::uint64_t{zeros} << (16 * i);
        }
        return m;
    }

    [[gnu::target("ssse3")]] static std::uint8_t* convert(char const* block, std::uint64_t separators,
                                                          std::uint8_t* dst, bool& out_of_range) noexcept
    {
        __m128i const zero_char = _mm_set1_epi8('0');
        __m128i const ten = _mm_set1_epi8(10);
        __m128i const tens_of = _mm_setr_epi8(RELAY_TENS_OF);
        __m128i const hundreds_of = _mm_setr_epi8(RELAY_HUNDREDS_OF);
        __m128i const penalty_of = _mm_setr_epi8(RELAY_PENALTY_OF);
        __m128i const all_ones = _mm_set1_epi8(-1);
        std::uint32_t too_large = 0;
        for (int i = 0; i < 4; ++i) {
            auto const separator_lanes = static_cast<std::uint32_t>(separators >> (16 * i)) & 0xffffu;
            char const* const c = block + 16 * i;
            __m128i const units_digits =
                _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<__m128i const*>(c - 1)), zero_char);
            __m128i const tens_digits =
                _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<__m128i const*>(c - 2)), zero_char);
            __m128i const hundreds_digits =
                _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<__m128i const*>(c - 3)), zero_char);
            __m128i const low_two =
                _mm_add_epi8(units_digits, _mm_shuffle_epi8(tens_of, tens_digits)); // 10 t + u <= 99
            // The hundreds count only if the tens position holds a digit:
            // otherwise force the top bit, which pshufb turns into 0.
            __m128i const tens_not_digit = _mm_cmpeq_epi8(_mm_max_epu8(tens_digits, ten), tens_digits);
            __m128i const hundreds_index = _mm_or_si128(hundreds_digits, tens_not_digit);
            __m128i const value = _mm_add_epi8(low_two, _mm_shuffle_epi8(hundreds_of, hundreds_index));
            __m128i const saturated = _mm_adds_epu8(low_two, _mm_shuffle_epi8(penalty_of, hundreds_index));
            too_large |=
                static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(saturated, all_ones))) & separator_lanes;
            dst = pack_values(value, separator_lanes, dst);
        }
        out_of_range |= too_large != 0;
        return dst;
    }
};

/// The same with AVX2, thirty-two bytes at a time (pshufb works within each
/// 16-byte half, so the tables are repeated in both halves).
struct avx2_kernel {
    [[gnu::target("avx2")]] static block_masks classify(char const* block) noexcept
    {
        block_masks m{0, 0, 0};
        __m256i const comma = _mm256_set1_epi8(',');
        __m256i const zero_char = _mm256_set1_epi8('0');
        __m256i const nine = _mm256_set1_epi8(9);
        for (int i = 0; i < 2; ++i) {
            __m256i const v = _mm256_loadu_si256(reinterpret_cast<__m256i const*>(block + 32 * i));
            __m256i const is_comma = _mm256_cmpeq_epi8(v, comma);
            __m256i const d = _mm256_sub_epi8(v, zero_char);
            __m256i const is_digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d); // unsigned d <= 9
            __m256i const is_zero = _mm256_cmpeq_epi8(v, zero_char);
            auto const commas = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_comma));
            auto const fine = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(is_comma, is_digit)));
            auto const zeros = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_zero));
            m.separators |= std::uint64_t{commas} << (32 * i);
            m.invalid |= std::uint64_t{~fine} << (32 * i);
            m.zeros |= std::uint64_t{zeros} << (32 * i);
        }
        return m;
    }

    [[gnu::target("avx2")]] static std::uint8_t* convert(char const* block, std::uint64_t separators, std::uint8_t* dst,
                                                         bool& out_of_range) noexcept
    {
        __m256i const zero_char = _mm256_set1_epi8('0');
        __m256i const ten = _mm256_set1_epi8(10);
        __m256i const tens_of = _mm256_setr_epi8(RELAY_TENS_OF, RELAY_TENS_OF);
        __m256i const hundreds_of = _mm256_setr_epi8(RELAY_HUNDREDS_OF, RELAY_HUNDREDS_OF);
        __m256i const penalty_of = _mm256_setr_epi8(RELAY_PENALTY_OF, RELAY_PENALTY_OF);
        __m256i const all_ones = _mm256_set1_epi8(-1);
        std::uint32_t too_large = 0;
        for (int i = 0; i < 2; ++i) {
            auto const separator_lanes = static_cast<std::uint32_t>(separators >> (32 * i));
            char const* const c = block + 32 * i;
            __m256i const units_digits =
                _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<__m256i const*>(c - 1)), zero_char);
            __m256i const tens_digits =
                _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<__m256i const*>(c - 2)), zero_char);
            __m256i const hundreds_digits =
                _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<__m256i const*>(c - 3)), zero_char);
            __m256i const low_two = _mm256_add_epi8(units_digits, _mm256_shuffle_epi8(tens_of, tens_digits));
            __m256i const tens_not_digit = _mm256_cmpeq_epi8(_mm256_max_epu8(tens_digits, ten), tens_digits);
            __m256i const hundreds_index = _mm256_or_si256(hundreds_digits, tens_not_digit);
            __m256i const value = _mm256_add_epi8(low_two, _mm256_shuffle_epi8(hundreds_of, hundreds_index));
            __m256i const saturated = _mm256_adds_epu8(low_two, _mm256_shuffle_epi8(penalty_of, hundreds_index));
            too_large |= static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(saturated, all_ones))) &
                separator_lanes;
            dst = pack_values(_mm256_castsi256_si128(value), separator_lanes & 0xffffu, dst);
            dst = pack_values(_mm256_extracti128_si256(value, 1), separator_lanes >> 16, dst);
        }
        out_of_range |= too_large != 0;
        return dst;
    }
};

#undef RELAY_TENS_OF
#undef RELAY_HUNDREDS_OF
#undef RELAY_PENALTY_OF

// flatten: convert_blocks and the kernel are inlined here, compiled for SSSE3.
[[gnu::target("ssse3"), gnu::flatten]] std::size_t convert_ssse3(char const* text, std::size_t n,
                                                                 std::uint8_t* out) noexcept
{
    return convert_blocks<ssse3_kernel>(text, n, out);
}

[[gnu::target("avx2"), gnu::flatten]] std::size_t convert_avx2(char const* text, std::size_t n,
                                                               std::uint8_t* out) noexcept
{
    return convert_blocks<avx2_kernel>(text, n, out);
}

array_digits_path best_path_of_cpu() noexcept
{
    static array_digits_path const best = __builtin_cpu_supports("avx2") ? array_digits_path::avx2
        : __builtin_cpu_supports("ssse3")                                ? array_digits_path::ssse3
                                                                         : array_digits_path::scalar;
    return best;
}

#else

array_digits_path best_path_of_cpu() noexcept { return array_digits_path::scalar; }
std::size_t convert_ssse3(char const*, std::size_t, std::uint8_t*) noexcept { return 0; }
std::size_t convert_avx2(char const*, std::size_t, std::uint8_t*) noexcept { return 0; }

#endif

} // namespace

std::size_t convert_array_digits(char const* text, std::size_t n, std::uint8_t* out) noexcept
{
    if (n == 0)
        return 0;
    switch (array_digits_path_in_use()) {
    case array_digits_path::avx2:
        return convert_avx2(text, n, out);
    case array_digits_path::ssse3:
        return convert_ssse3(text, n, out);
    case array_digits_path::scalar:
        break;
    }
    return convert_scalar(text, n, out);
}

void limit_array_digits_path(array_digits_path limit) noexcept { path_limit = limit; }

array_digits_path array_digits_path_in_use() noexcept { return std::min(path_limit, best_path_of_cpu()); }

} // namespace relay::protocol::detail
