#pragma once
// Internal to byte_array_scan.cpp: four array elements converted at once with
// SSSE3 (issue 6). After the scanner has validated a block of array text and
// knows where each separator is, the four numbers that end at the next four
// separators are placed by one byte shuffle into four lanes, right-aligned,
// and each lane's digits are weighted (100, 10, 1) and summed by two
// multiply-adds. The shuffle depends only on the four lengths (1 to 3 digits
// each), so a table of 3^4 = 81 shuffles covers every case.

#include <cstddef>
#include <cstdint>

namespace relay::protocol::detail {

/// True if this CPU has SSSE3 (checked once); otherwise the caller converts
/// one element at a time.
bool byte_groups_supported() noexcept;

/// Where a batch of group conversions stopped.
struct groups_done {
    std::size_t separators;    ///< separators consumed (a multiple of 4)
    std::size_t element_start; ///< offset of the next element's first digit
    bool in_range;             ///< false if some value was above 255 (then stop)
};

/// Converts elements four at a time: the elements end at text[separators[i]],
/// the first starts at text[element_start]; each is 1 to 3 digits (the caller
/// checked). Stops when fewer than four separators are left or fewer than 16
/// bytes of text remain at the next element (`text_end`). Writes one byte per
/// element to dst. One call per block of text, so that the loop over groups
/// is compiled with SSSE3 and nothing is called per group.
groups_done convert_element_groups(char const* text, char const* text_end, std::size_t element_start,
                                   std::uint32_t const* separators, std::size_t count, std::uint8_t* dst) noexcept;

} // namespace relay::protocol::detail
