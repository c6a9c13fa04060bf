#include "worker/protocol/json_writer.hpp"

#include "worker/protocol/codec.hpp"

#include <array>
#include <cassert>
#include <charconv>
#include <cstring>
#include <limits>

namespace relay::protocol::detail {

namespace {

// Decimal text of every byte value followed by a comma, so byte_array() can
// copy a fixed 4 bytes per element and advance by the real length.
struct byte_text {
    std::array<char, 4> chars{};
    std::uint8_t size = 0;
};

constexpr std::array<byte_text, 256> byte_texts = [] {
    std::array<byte_text, 256> table{};
    for (unsigned value = 0; value < table.size(); ++value) {
        auto& entry = table[value];
        std::size_t n = 0;
        if (value >= 100)
            entry.chars[n++] = static_cast<char>('0' + value / 100);
        if (value >= 10)
            entry.chars[n++] = static_cast<char>('0' + value / 10 % 10);
        entry.chars[n++] = static_cast<char>('0' + value % 10);
        entry.chars[n++] = ',';
        entry.size = static_cast<std::uint8_t>(n);
    }
    return table;
}();

void append_escape(std::string& out, unsigned char c)
{
    switch (c) {
    case '"':
        out.append("\\\"");
        return;
    case '\\':
        out.append("\\\\");
        return;
    case '\b':
        out.append("\\b");
        return;
    case '\f':
        out.append("\\f");
        return;
    case '\n':
        out.append("\\n");
        return;
    case '\r':
        out.append("\\r");
        return;
    case '\t':
        out.append("\\t");
        return;
    default:
        break;
    }
    constexpr char hex[] = "0123456789abcdef";
    char const escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
    out.append(escape, sizeof escape);
}

} // namespace

void json_writer::separate()
{
    if (need_comma_)
        out_.push_back(',');
}

void json_writer::begin_object()
{
    separate();
    out_.push_back('{');
    need_comma_ = false;
}

void json_writer::end_object()
{
    out_.push_back('}');
    need_comma_ = true;
}

void json_writer::begin_array()
{
    separate();
    out_.push_back('[');
    need_comma_ = false;
}

void json_writer::end_array()
{
    out_.push_back(']');
    need_comma_ = true;
}

void json_writer::key(std::string_view name)
{
    separate();
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
    need_comma_ = false;
}

void json_writer::string(std::string_view text)
{
    separate();
    out_.push_back('"');
    std::size_t run = 0; // start of the pending stretch that needs no escaping
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto const c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out_.append(text.data() + run, i - run);
        append_escape(out_, c);
        run = i + 1;
    }
    out_.append(text.data() + run, text.size() - run);
    out_.push_back('"');
    need_comma_ = true;
}

void json_writer::number(std::uint64_t n)
{
    separate();
    char digits[std::numeric_limits<std::uint64_t>::digits10 + 1];
    auto const [end, ec] = std::to_chars(std::begin(digits), std::end(digits), n);
    assert(ec == std::errc{});
    out_.append(digits, end);
    need_comma_ = true;
}

void json_writer::boolean(bool b)
{
    separate();
    out_.append(b ? "true" : "false");
    need_comma_ = true;
}

void json_writer::byte_array(std::span<std::uint8_t const> data)
{
    separate();
    // Grow once to the worst case, write through a pointer, then trim: no
    // per-element capacity checks on the hot path.
    auto const start = out_.size();
    out_.resize(start + byte_array_bound(data.size()));
    char* p = out_.data() + start;
    *p++ = '[';
    for (auto const b : data) {
        auto const& text = byte_texts[b];
        std::memcpy(p, text.chars.data(), text.chars.size());
        p += text.size;
    }
    if (data.empty())
        *p++ = ']';
    else
        p[-1] = ']'; // replaces the last element's comma
    out_.resize(static_cast<std::size_t>(p - out_.data()));
    need_comma_ = true;
}

std::string begin_frame(std::size_t reserve)
{
    std::string frame;
    frame.reserve(frame_prefix_size + reserve);
    frame.append(frame_prefix_size, '\0');
    return frame;
}

void end_frame(std::string& frame) noexcept
{
    assert(frame.size() >= frame_prefix_size);
    auto const length = frame.size() - frame_prefix_size;
    // Frames are bounded far below 4 GiB by the message size limit (§10.1).
    assert(length <= std::numeric_limits<std::uint32_t>::max());
    frame[0] = static_cast<char>(length >> 24 & 0xff);
    frame[1] = static_cast<char>(length >> 16 & 0xff);
    frame[2] = static_cast<char>(length >> 8 & 0xff);
    frame[3] = static_cast<char>(length & 0xff);
}

} // namespace relay::protocol::detail
