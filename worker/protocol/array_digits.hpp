#pragma once
// Internal to byte_array_scan.cpp: the text between the brackets of a byte
// array, "12,0,255", validated and converted in one pass (the codec's hottest loop).
//
// Every 64-byte block is classified into bit masks (one bit per byte:
// separators, bytes that are neither a digit nor ',', zeros) and every shape
// rule is checked on the masks, with carries from block to block: no empty
// element, at most three digits, no leading zero. Then each element's value
// is computed at its separator from the (up to) three characters before it,
// for 32 (AVX2) or 16 (SSSE3) bytes of text at once, and the values standing
// at separators are packed into the output by a byte shuffle. Nothing
// branches on the digits, which are random in ciphertext, and no element
// waits for the one before it. The path is chosen once from the CPU; a scalar
// path does the same per separator on CPUs without SSSE3. Tests and the
// fuzzer run every path against the others.

#include <cstddef>
#include <cstdint>

namespace relay::protocol::detail {

/// Slack the caller leaves after the largest possible output: whole 8-byte
/// groups are stored even when fewer values are packed.
inline constexpr std::size_t array_digits_slack = 8;

/// Converts the `n` characters at `text` (the inside of a JSON array: one to
/// three digits per element, elements separated by ',', no whitespace) and
/// writes one byte per element to `out`, which has room for (n + 1) / 2 +
/// array_digits_slack bytes. Reads the three characters before `text` (the
/// '[' and two more, which the caller guarantees exist). Returns the number of
/// elements, or 0 when the text breaks any rule or a value exceeds 255 (the
/// general parser then decides).
std::size_t convert_array_digits(char const* text, std::size_t n, std::uint8_t* out) noexcept;

/// The conversions, in order of speed; each gives the same result.
enum class array_digits_path { scalar, ssse3, avx2 };

/// Tests and the fuzzer: use no path faster than `limit`.
void limit_array_digits_path(array_digits_path limit) noexcept;
/// The fastest path the CPU has, within the limit.
array_digits_path array_digits_path_in_use() noexcept;

} // namespace relay::protocol::detail
