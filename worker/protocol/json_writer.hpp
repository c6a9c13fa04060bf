#pragma once
// Internal: a minimal compact-JSON writer producing the same bytes as the Rust
// relay's serde_json::to_vec, so our frames match it byte for byte.
//
// It writes straight into the frame string (no json::value tree): a 4 KiB
// ciphertext becomes ~15 KB of digits and is the hot path of every delivery.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace relay::protocol::detail {

class json_writer {
public:
    /// Appends to `out`, which the caller owns and has usually reserved.
    explicit json_writer(std::string& out) noexcept : out_(out) {}

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();

    /// One of our own field names; they need no escaping, so none is done.
    void key(std::string_view name);
    /// A string value, escaped like serde_json: \" \\ \b \f \n \r \t, other
    /// control characters as \u00xx, everything else (UTF-8 included) verbatim.
    void string(std::string_view text);
    void number(std::uint64_t n);
    void boolean(bool b);
    /// Binary data as an array of decimal integers 0..255.
    void byte_array(std::span<std::uint8_t const> data);

private:
    void separate();

    std::string& out_;
    // True once a value has been completed at the current nesting level, so
    // the next key or array element needs a comma first.
    bool need_comma_ = false;
};

/// A new frame buffer holding a placeholder length prefix, with `reserve`
/// bytes of capacity for the JSON that follows.
std::string begin_frame(std::size_t reserve);
/// Writes the big-endian length of everything after the prefix into the prefix.
void end_frame(std::string& frame) noexcept;

/// Upper bound of the bytes byte_array() writes for `n` bytes (3 digits and a comma each).
constexpr std::size_t byte_array_bound(std::size_t n) noexcept { return 2 + 4 * n; }

} // namespace relay::protocol::detail
