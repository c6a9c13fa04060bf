#pragma once
// Internal: the fast path for binary fields (the codec's hottest path). Ciphertexts arrive as
// JSON arrays of decimal numbers, a 4 KiB blob being ~15 KB of digits; running
// each number through Boost.JSON's general number parser cost ~120
// instructions per byte. This scan finds arrays made only of integers 0..255
// (outside strings, below the depth limit), converts them itself, and hands
// the parser a copy of the text where each such array is replaced by a
// placeholder literal; the tree builder (strict_json.cpp) swaps the bytes back
// in. Anything unusual (a leading zero, a sign, a fraction, a value above 255,
// a trailing comma, whitespace) leaves that array in the text for the general
// parser, which then accepts or rejects it exactly as before.
//
// The conversion validates and converts 64 bytes of array text at a time
// without branching on the digits (array_digits.hpp). Measured: callgrind,
// decoding an EncryptedUpdate went from 618k to 148k instructions at 4 KiB
// with the first, branchy loop; bench/codec_bench (wall time, 64 different
// frames) measured each later version: see bench/README.md.

#include "worker/protocol/messages.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::protocol::detail {

/// UINT64_MAX: Boost.JSON reports it through on_uint64 with this exact text.
inline constexpr std::string_view byte_array_placeholder = "18446744073709551615";

struct prescanned_text {
    std::string text;               ///< the document with byte arrays replaced
    std::vector<bytes> byte_arrays; ///< in text order
};

/// nullopt when no array was extracted (parse the original text), or when the
/// text outside the extracted arrays contains the placeholder literal (the
/// tree builder could not tell them apart, so the fast path stays out of the way).
std::optional<prescanned_text> extract_byte_arrays(std::string_view text, unsigned max_depth);

/// Parses `[n,n,...]` of JSON integers 0..255 written compactly at text[at]:
/// on success returns the index just past ']' and fills `out`; otherwise
/// (no '[' there, at < 2, any other shape) 0, and the general parser decides.
std::size_t scan_byte_array(std::string_view text, std::size_t at, bytes& out);

/// Tests and the fuzzer compare decoding with and without the fast paths
/// (this one and canonical_update.hpp).
void set_byte_array_prescan(bool enabled) noexcept;
bool byte_array_prescan_enabled() noexcept;

} // namespace relay::protocol::detail
