#pragma once
// Internal to byte_array_scan.cpp: four array elements converted at once with
// SSSE3 (issue 6). After the scanner has validated a block of array text and
// knows where each separator is, the four numbers that end at the next four
// separators are placed by one byte shuffle into four lanes, right-aligned,
// and each lane's digits are weighted (100, 10, 1) and summed by two
// multiply-adds. The shuffle depends only on the four lengths (1 to 3 digits
// each), so a table of 3^4 = 81 shuffles covers every case.

#include <cstdint>

namespace relay::protocol::detail {

/// True if this CPU has SSSE3 (checked once); otherwise the caller converts
/// one element at a time.
bool byte_groups_supported() noexcept;

/// Converts the four elements that end at text[separators[0..3]], the first
/// starting at text[first_start]; each is 1 to 3 digits (the caller checked).
/// Reads text[first_start, first_start + 16) and writes dst[0..3]. Returns
/// false if a value is above 255 (dst then holds garbage).
bool convert_four_elements(char const* text, std::uint32_t first_start, std::uint32_t const* separators,
                           std::uint8_t* dst) noexcept;

} // namespace relay::protocol::detail
