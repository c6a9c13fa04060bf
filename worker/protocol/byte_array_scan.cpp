#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/byte_groups.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace relay::protocol::detail {
namespace {

bool prescan_enabled = true;

// The scalar conversion reads four characters as one little-endian word.
static_assert(std::endian::native == std::endian::little, "byte_array_scan assumes a little-endian CPU");

/// Bits of a 64-byte block of array text, bit i for byte i: `separators`
/// marks ',', `invalid` every byte that is neither ',' nor a digit, `zeros`
/// the digit '0'.
struct block_masks {
    std::uint64_t separators;
    std::uint64_t invalid;
    std::uint64_t zeros;
};

block_masks classify_block(char const* block) noexcept
{
    block_masks m{0, 0, 0};
#if defined(__SSE2__)
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
#else
    for (int i = 0; i < 64; ++i) {
        char const c = block[i];
        m.separators |= std::uint64_t{c == ','} << i;
        m.invalid |= std::uint64_t{c != ',' && (c < '0' || c > '9')} << i;
        m.zeros |= std::uint64_t{c == '0'} << i;
    }
#endif
    return m;
}

/// Parses `[n,n,...]` of JSON integers 0..255 starting at text[at] == '['.
/// On success returns the index just past ']' and fills `out`; otherwise 0.
/// Hot: a 4 KiB ciphertext is ~15 KB of digits. Clients write compact JSON
/// (serde), so this path takes exactly that shape; an array with whitespace
/// or anything else unusual is left to the general parser (correct, slower).
///
/// Ciphertext digits are random, so a loop that branches on each number's
/// length mispredicts on most elements. Here nothing branches on the digits:
/// 1. each 64-byte block is classified at once (SSE2) into bit masks, and
///    every rule of the shape is checked on the masks: only digits and
///    commas, no empty element, at most three digits, no leading zero;
/// 2. the elements are then converted four at a time with SSSE3
///    (byte_groups.hpp), or one at a time from a 4-byte load at the first
///    digit, the lengths known from the separator positions; values above
///    255 are caught in either path.
/// Checked against the general parser by the differential codec fuzzer.
std::size_t parse_byte_array(std::string_view text, std::size_t at, bytes& out)
{
    char const* const p = text.data() + at + 1; // first character inside the brackets
    char const* const end = text.data() + text.size();
    auto const* close = static_cast<char const*>(std::memchr(p, ']', static_cast<std::size_t>(end - p)));
    if (close == nullptr || p == close)
        return 0;
    // The last element's 4-byte load starts at close - 1 at the latest. An
    // envelope always has more text after the array, so this only sends odd
    // fragments to the general parser.
    if (end - close < 3)
        return 0;
    std::size_t const n = static_cast<std::size_t>(close - p);
    // Each element takes at least two characters ("7," or the final "7]"),
    // which the mask checks guarantee before any element of a block is written.
    out.resize((n + 1) / 2);
    std::uint8_t* const first = out.data();
    std::uint8_t* dst = first;
    std::size_t element_start = 0; // offset of the current element's first digit
    // Bit 63 of the previous block's masks carries into bit 0 of the next;
    // '[' counts as a separator before the first element.
    std::uint64_t previous_separators = std::uint64_t{1} << 63;
    std::uint64_t previous_digits = 0;
    std::uint64_t previous_leading_zeros = 0;
    std::uint64_t bad = 0;
    unsigned all_values = 0;
    // Offsets of separators whose elements are not converted yet: at most
    // three waiting from earlier blocks plus this block's 64.
    std::uint32_t separators[64 + 3];
    std::size_t pending = 0;
    bool const groups = byte_groups_supported();
    if (n > std::numeric_limits<std::uint32_t>::max() - 64)
        return 0; // offsets are 32-bit; no frame comes near this
    for (std::size_t base = 0; base <= n; base += 64) {
        std::size_t const left = n - base; // array bytes from base on; close is at base + left
        block_masks m;
        std::uint64_t in_array = ~std::uint64_t{0};
        if (left >= 64) {
            m = classify_block(p + base);
        } else {
            char tail[64];
            std::memcpy(tail, p + base, left);
            std::memset(tail + left, ',', 64 - left);
            m = classify_block(tail);
            // The closing bracket ends the last element; nothing after it counts.
            in_array = (std::uint64_t{1} << left) - 1;
            m.separators = (m.separators & in_array) | (std::uint64_t{1} << left);
            m.invalid &= in_array;
            m.zeros &= in_array;
        }
        std::uint64_t const s = m.separators;
        std::uint64_t const d = ~s & ~m.invalid & in_array; // digits
        std::uint64_t const after_separator = (s << 1) | (previous_separators >> 63);
        // Two separators in a row, or one right after '[': an empty element.
        bad |= m.invalid | (s & after_separator);
        // Four digits in a row.
        std::uint64_t const d1 = (d << 1) | (previous_digits >> 63);
        std::uint64_t const d2 = (d << 2) | (previous_digits >> 62);
        std::uint64_t const d3 = (d << 3) | (previous_digits >> 61);
        bad |= d & d1 & d2 & d3;
        // A leading zero followed by another digit.
        std::uint64_t const leading_zeros = m.zeros & after_separator;
        bad |= ((leading_zeros << 1) | previous_leading_zeros) & d;
        previous_separators = s;
        previous_digits = d;
        previous_leading_zeros = leading_zeros >> 63;
        if (bad != 0)
            return 0; // '-', '.', 'e', whitespace, a string...: the general parser decides
        for (std::uint64_t sep = s; sep != 0; sep &= sep - 1)
            separators[pending++] = static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(std::countr_zero(sep));
        // Elements ending at the pending separators: four at a time while 16
        // bytes can be loaded, the rest one by one once the array ends (or
        // near the end of the text); up to three wait for the next block.
        std::size_t done = 0;
        if (groups) {
            groups_done const g = convert_element_groups(p, end, element_start, separators, pending, dst);
            if (!g.in_range)
                return 0; // a value above 255: the general parser reports it
            dst += g.separators;
            done = g.separators;
            element_start = g.element_start;
        }
        bool const one_by_one = !groups || left < 64 || pending - done >= 4;
        std::size_t const waiting = one_by_one ? 0 : pending - done;
        for (; done < pending - waiting; ++done) {
            std::size_t const pos = separators[done];
            std::size_t const length = pos - element_start;
            std::uint32_t word;
            std::memcpy(&word, p + element_start, 4);
            std::uint32_t const x = word ^ 0x30303030u; // '0'..'9' become 0..9 in each byte
            // Right-align the digits in bytes 1..3 (little-endian: byte 0 is
            // the first character); the bytes after the digits shift out.
            std::uint64_t const aligned = std::uint64_t{x} << ((32 - 8 * length) & 63);
            unsigned const value = static_cast<unsigned>((aligned >> 8) & 0xff) * 100 +
                                   static_cast<unsigned>((aligned >> 16) & 0xff) * 10 +
                                   static_cast<unsigned>((aligned >> 24) & 0xff);
            all_values |= value; // above 255 iff some value is
            *dst++ = static_cast<std::uint8_t>(value);
            element_start = pos + 1;
        }
        std::copy(separators + done, separators + pending, separators);
        pending -= done;
        if (all_values > 255)
            return 0; // the general parser reports the out-of-range number
    }
    out.resize(static_cast<std::size_t>(dst - first));
    return static_cast<std::size_t>(close + 1 - text.data());
}

/// True if `segment` (text outside extracted arrays) holds the placeholder
/// literal, which the tree builder could then mistake for an extracted array.
bool holds_placeholder(std::string_view segment)
{
    return segment.size() >= byte_array_placeholder.size() && segment.find(byte_array_placeholder) != std::string_view::npos;
}

} // namespace

void set_byte_array_prescan(bool enabled) noexcept { prescan_enabled = enabled; }
bool byte_array_prescan_enabled() noexcept { return prescan_enabled; }

std::optional<prescanned_text> extract_byte_arrays(std::string_view text, unsigned max_depth)
{
    if (!prescan_enabled)
        return std::nullopt;
    prescanned_text out;
    std::size_t copied_up_to = 0; // text[copied_up_to, i) still has to be copied
    unsigned depth = 0;
    std::size_t const n = text.size();
    bytes scratch;
    for (std::size_t i = 0; i < n;) {
        char const c = text[i];
        if (c == '"') {
            // Skip the string; escapes hide quotes. Its validity is the parser's business.
            ++i;
            while (i < n && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            ++i;
            continue;
        }
        if (c == '{') {
            ++depth;
        } else if (c == '}' || c == ']') {
            depth -= depth > 0;
        } else if (c == '[') {
            // Only well below the depth limit, so that replacing an array by a
            // scalar can never turn a too-deep document into an accepted one.
            if (depth + 1 < max_depth) {
                scratch.clear();
                if (std::size_t const end = parse_byte_array(text, i, scratch); end != 0) {
                    std::string_view const before = text.substr(copied_up_to, i - copied_up_to);
                    if (holds_placeholder(before))
                        return std::nullopt;
                    out.text.append(before);
                    // Spaces keep the literal from merging with a neighbour:
                    // "8[6]" must stay invalid, not become one number (found by
                    // the differential fuzzer).
                    out.text.push_back(' ');
                    out.text.append(byte_array_placeholder);
                    out.text.push_back(' ');
                    out.byte_arrays.push_back(std::move(scratch));
                    scratch = {};
                    copied_up_to = i = end;
                    continue;
                }
            }
            ++depth;
        }
        ++i;
    }
    if (out.byte_arrays.empty() || holds_placeholder(text.substr(copied_up_to)))
        return std::nullopt;
    out.text.append(text.substr(copied_up_to));
    return out;
}

} // namespace relay::protocol::detail
