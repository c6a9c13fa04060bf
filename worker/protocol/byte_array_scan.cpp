#include "worker/protocol/byte_array_scan.hpp"

#include <algorithm>
#include <cstring>

namespace relay::protocol::detail {
namespace {

bool prescan_enabled = true;

constexpr bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Parses `[n,n,...]` of JSON integers 0..255 starting at text[at] == '['.
/// On success returns the index just past ']' and fills `out`; otherwise 0.
/// Hot: a 4 KiB ciphertext is ~15 KB of digits. Clients write compact JSON
/// (serde), so this path takes exactly that shape; an array with whitespace
/// or anything else unusual is left to the general parser (correct, slower).
/// The closing bracket bounds every read: a digit is never the last character
/// before it, so looking one character past a digit stays inside the array.
std::size_t parse_byte_array(std::string_view text, std::size_t at, bytes& out)
{
    char const* p = text.data() + at + 1;
    char const* const end = text.data() + text.size();
    auto const* close = static_cast<char const*>(std::memchr(p, ']', static_cast<std::size_t>(end - p)));
    if (close == nullptr || p == close)
        return 0;
    // Each element takes at least two characters ("7," or the final "7]").
    out.resize(static_cast<std::size_t>(close - p + 1) / 2);
    std::uint8_t* const first = out.data();
    std::uint8_t* dst = first;
    auto digit = [](char c) { return static_cast<unsigned>(static_cast<unsigned char>(c) - '0'); };
    for (;;) {
        unsigned const d0 = digit(p[0]);
        if (d0 > 9)
            return 0;
        unsigned value = d0;
        unsigned const d1 = digit(p[1]);
        if (d1 > 9) {
            p += 1;
        } else {
            if (d0 == 0)
                return 0; // leading zero: invalid JSON, let the parser say so
            unsigned const d2 = digit(p[2]);
            if (d2 > 9) {
                value = d0 * 10 + d1;
                p += 2;
            } else {
                value = d0 * 100 + d1 * 10 + d2;
                p += 3;
                if (value > 255 || digit(p[0]) <= 9)
                    return 0;
            }
        }
        *dst++ = static_cast<std::uint8_t>(value);
        if (p == close)
            break;
        if (*p != ',')
            return 0; // whitespace, '.', 'e', a string, anything else
        ++p;
        if (p == close)
            return 0; // trailing comma
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
