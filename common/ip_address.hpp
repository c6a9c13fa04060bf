#pragma once
// IP addresses and address blocks (CIDR) without sockets: what
// RELAY_TRUSTED_PROXIES lists, what the PROXY protocol and X-Forwarded-For
// name, and what the per-address cap counts (docs/proxies.md). An IPv4
// address is held in its IPv4-mapped IPv6 form, so that a client is the same
// client whichever way it is written or reached.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relay {

class ip_address {
public:
    /// ::ffff:0.0.0.0, the "no address" default.
    ip_address() noexcept;
    static ip_address v4(std::array<std::uint8_t, 4> const& bytes) noexcept;
    /// An IPv4-mapped IPv6 address becomes the IPv4 address it maps.
    static ip_address v6(std::array<std::uint8_t, 16> const& bytes) noexcept;
    /// A literal IPv4 (dotted quad) or IPv6 address, nothing around it;
    /// nullopt for anything else (names, ports, brackets, zone ids).
    static std::optional<ip_address> parse(std::string_view text);

    bool is_v4() const noexcept;
    bool is_loopback() const noexcept;
    /// The address's own bytes: 4 for IPv4, 16 for IPv6.
    std::span<std::uint8_t const> bytes() const noexcept;
    /// The 128-bit form (IPv4 mapped), for block matching.
    std::array<std::uint8_t, 16> const& mapped() const noexcept { return bytes_; }
    /// Dotted quad or RFC 5952 text; for configuration messages only, never
    /// for logging a client.
    std::string to_string() const;

    bool operator==(ip_address const&) const = default;

private:
    std::array<std::uint8_t, 16> bytes_;
};

/// An address block: the addresses whose first `prefix` bits equal the base's.
class ip_block {
public:
    /// "10.0.0.0/8", "::1/128", or a bare address (a block of one). Host bits
    /// set below the prefix are refused: "10.0.0.1/8" is more likely a typo
    /// than a block.
    static std::optional<ip_block> parse(std::string_view text);
    bool contains(ip_address const& a) const noexcept;
    std::string to_string() const;
    bool operator==(ip_block const&) const = default;

private:
    ip_address base_;
    unsigned prefix_ = 0; ///< in the 128-bit form: an IPv4 /8 is 104
};

/// RELAY_TRUSTED_PROXIES: comma-separated blocks.
struct ip_block_list {
    std::vector<ip_block> blocks;

    bool contains(ip_address const& a) const noexcept;
    bool empty() const noexcept { return blocks.empty(); }
    std::string to_string() const;

    /// Parses a comma-separated list (spaces around entries allowed, empty
    /// entries skipped). On failure `error` names the entry that did not parse.
    static std::optional<ip_block_list> parse(std::string_view text, std::string& error);
};

} // namespace relay
