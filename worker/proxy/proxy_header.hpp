#pragma once
// The PROXY protocol header a trusted TLS proxy writes before the client's
// first byte (RELAY_PROXY_PROTOCOL=on): version 1 (text) or 2 (binary), as
// HAProxy's specification defines them (docs/proxies.md#proxy-protocol).
// A pure parser of bytes from the network: no sockets, nothing of the relay.
// It is fed the bytes received so far and says whether they hold a whole
// header, need more, or can never become one.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/ip_address.hpp"

namespace relay::proxy {

/// v1 headers are at most 107 bytes with their CRLF (the specification's
/// bound); v2 headers are 16 bytes plus what their length field says, which
/// we bound at this total. HAProxy's own headers, TLVs included, stay far
/// below; a larger one is refused as oversized.
inline constexpr std::size_t max_v1_header_bytes = 107;
inline constexpr std::size_t max_v2_header_bytes = 4096;

struct proxy_header {
    enum class state {
        incomplete, ///< a prefix of a valid header: read more
        complete,   ///< a whole header of `length` bytes
        invalid,    ///< not a header, malformed or oversized: close the connection
    };
    state status = state::incomplete;
    std::size_t length = 0; ///< header bytes, when complete; the client's bytes follow
    /// The client's address for a proxied TCP connection over IPv4 or IPv6.
    /// Empty for LOCAL (the proxy's own health check), v1 UNKNOWN, and v2's
    /// unspecified or UNIX families: the connection is the proxy's own.
    std::optional<ip_address> source;
    /// Why it is invalid, for a debug log (never contains received bytes).
    char const* error = nullptr;
};

/// Parses the start of a connection's byte stream.
proxy_header parse_proxy_header(std::span<std::uint8_t const> received);

} // namespace relay::proxy
