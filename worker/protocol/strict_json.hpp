#pragma once
// Internal: JSON text to a boost::json::value, with the rules serde_json
// enforces that Boost.JSON's own parser does not, and a fast path for binary
// fields.
//
//  - A repeated key is an error (Boost keeps the last one silently).
//  - "-0" is not an integer (serde_json reads it as a float, so an integer
//    field rejects it; Boost would hand us int64 0).
//  - A non-empty array made only of integers 0..255 is collected straight
//    into a byte vector instead of a json::array: as a tree, a 4 KiB
//    ciphertext would cost 4096 16-byte values (64 KiB) plus a copy.

#include "worker/protocol/messages.hpp"

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <string_view>
#include <vector>

namespace relay::protocol::detail {

/// A parsed document whose byte arrays live beside the tree.
///
/// In the tree, a collected byte array is a uint64 value holding its index in
/// byte_arrays. That cannot be confused with a number from the text: the
/// parser produces uint64 only for values above INT64_MAX (smaller
/// non-negative integers are int64), and there are never that many arrays.
struct strict_document {
    boost::json::value root;
    std::vector<bytes> byte_arrays;

    /// True if `v` stands for one of byte_arrays (rather than being a number).
    bool is_byte_array(boost::json::value const& v) const noexcept
    {
        auto const* index = v.if_uint64();
        return index && *index < byte_arrays.size();
    }
    /// The byte array `v` stands for (the caller may move from it), or nullptr.
    bytes* byte_array(boost::json::value const& v) noexcept
    {
        return is_byte_array(v) ? &byte_arrays[v.get_uint64()] : nullptr;
    }
};

/// Parses exactly one JSON document: valid UTF-8, no comments or trailing
/// commas, nesting at most max_json_depth, nothing but whitespace after it,
/// and no object repeating a key. The tree is allocated from `storage`.
/// Errors are decode_error codes (bad_json, too_deep, duplicate_key).
boost::system::result<strict_document> parse_strict(std::string_view text, boost::json::storage_ptr storage);

} // namespace relay::protocol::detail
