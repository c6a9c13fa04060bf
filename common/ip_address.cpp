#include "common/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/text.hpp"

namespace relay {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/// The longest literal inet_pton may see: an IPv6 address with an embedded
/// IPv4 tail is at most 45 characters.
constexpr std::size_t max_literal = 45;

} // namespace

ip_address::ip_address() noexcept : bytes_{}
{
    std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes_.begin());
}

ip_address ip_address::v4(std::array<std::uint8_t, 4> const& bytes) noexcept
{
    ip_address a;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin() + 12);
    return a;
}

ip_address ip_address::v6(std::array<std::uint8_t, 16> const& bytes) noexcept
{
    ip_address a;
    a.bytes_ = bytes;
    return a;
}

std::optional<ip_address> ip_address::parse(std::string_view text)
{
    if (text.empty() || text.size() > max_literal)
        return std::nullopt;
    char buffer[max_literal + 1];
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    // inet_pton accepts only the strict forms: four decimal octets for IPv4
    // (no octal, no short forms) and RFC 4291 text for IPv6 (no zone id).
    std::array<std::uint8_t, 4> v4bytes{};
    if (::inet_pton(AF_INET, buffer, v4bytes.data()) == 1)
        return v4(v4bytes);
    std::array<std::uint8_t, 16> v6bytes{};
    if (::inet_pton(AF_INET6, buffer, v6bytes.data()) == 1)
        return v6(v6bytes);
    return std::nullopt;
}

bool ip_address::is_v4() const noexcept
{
    return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes_.begin());
}

bool ip_address::is_loopback() const noexcept
{
    if (is_v4())
        return bytes_[12] == 127;
    static constexpr std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return bytes_ == v6_loopback;
}

std::span<std::uint8_t const> ip_address::bytes() const noexcept
{
    if (is_v4())
        return std::span<std::uint8_t const>(bytes_).subspan(12);
    return bytes_;
}

std::string ip_address::to_string() const
{
    char buffer[INET6_ADDRSTRLEN] = {};
    if (is_v4())
        ::inet_ntop(AF_INET, bytes_.data() + 12, buffer, sizeof buffer);
    else
        ::inet_ntop(AF_INET6, bytes_.data(), buffer, sizeof buffer);
    return buffer;
}

std::optional<ip_block> ip_block::parse(std::string_view text)
{
    text = trim_blanks(text);
    auto const slash = text.find('/');
    auto const address = ip_address::parse(text.substr(0, slash));
    if (!address)
        return std::nullopt;
    unsigned const width = address->is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (slash != std::string_view::npos) {
        std::string_view const digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3)
            return std::nullopt;
        auto const [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc() || end != digits.data() + digits.size() || prefix > width)
            return std::nullopt;
    }
    ip_block block;
    block.base_ = *address;
    block.prefix_ = prefix + (128 - width);
    // Refuse host bits below the prefix.
    auto const& bits = address->mapped();
    for (unsigned i = block.prefix_; i < 128; ++i)
        if (bits[i / 8] & (0x80u >> (i % 8)))
            return std::nullopt;
    return block;
}

bool ip_block::contains(ip_address const& a) const noexcept
{
    auto const& want = base_.mapped();
    auto const& have = a.mapped();
    unsigned const whole = prefix_ / 8;
    if (!std::equal(want.begin(), want.begin() + whole, have.begin()))
        return false;
    unsigned const rest = prefix_ % 8;
    if (rest == 0)
        return true;
    std::uint8_t const mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
    return (want[whole] & mask) == (have[whole] & mask);
}

std::string ip_block::to_string() const
{
    unsigned const shown = base_.is_v4() ? prefix_ - 96 : prefix_;
    return base_.to_string() + "/" + std::to_string(shown);
}

bool ip_block_list::contains(ip_address const& a) const noexcept
{
    return std::any_of(blocks.begin(), blocks.end(), [&](ip_block const& b) { return b.contains(a); });
}

std::string ip_block_list::to_string() const
{
    std::string out;
    for (auto const& b : blocks) {
        if (!out.empty())
            out += ",";
        out += b.to_string();
    }
    return out;
}

std::optional<ip_block_list> ip_block_list::parse(std::string_view text, std::string& error)
{
    ip_block_list list;
    while (!text.empty()) {
        auto const comma = text.find(',');
        std::string_view const entry = trim_blanks(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (entry.empty())
            continue;
        auto block = ip_block::parse(entry);
        if (!block) {
            error = std::string(entry);
            return std::nullopt;
        }
        list.blocks.push_back(*block);
    }
    return list;
}

} // namespace relay
