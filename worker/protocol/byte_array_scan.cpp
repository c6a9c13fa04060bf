#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/array_digits.hpp"

#include <cstring>

namespace relay::protocol::detail {
namespace {

bool prescan_enabled = true;

} // namespace

// Hot: a 4 KiB ciphertext is ~15 KB of digits. Clients write compact JSON
// (serde), so this path takes exactly that shape (array_digits.hpp); an
// array with whitespace or anything else unusual is left to the general
// parser (correct, slower). Checked against the general parser by the
// differential codec fuzzer.
std::size_t scan_byte_array(std::string_view text, std::size_t at, bytes& out)
{
    // The conversion reads the three characters before the first element.
    if (at < 2 || at >= text.size() || text[at] != '[')
        return 0;
    char const* const p = text.data() + at + 1; // first character inside the brackets
    char const* const end = text.data() + text.size();
    auto const* close = static_cast<char const*>(std::memchr(p, ']', static_cast<std::size_t>(end - p)));
    if (close == nullptr || p == close)
        return 0;
    std::size_t const n = static_cast<std::size_t>(close - p);
    // Each element takes at least two characters ("7," or the final "7]").
    out.resize((n + 1) / 2 + array_digits_slack);
    std::size_t const count = convert_array_digits(p, n, out.data());
    if (count == 0)
        return 0;
    out.resize(count);
    return static_cast<std::size_t>(close + 1 - text.data());
}

namespace {

/// True if `segment` (text outside extracted arrays) holds the placeholder
/// literal, which the tree builder could then mistake for an extracted array.
bool holds_placeholder(std::string_view segment)
{
    return segment.size() >= byte_array_placeholder.size() &&
        segment.find(byte_array_placeholder) != std::string_view::npos;
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
                if (std::size_t const end = scan_byte_array(text, i, scratch); end != 0) {
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
