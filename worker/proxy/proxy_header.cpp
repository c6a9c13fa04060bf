#include "worker/proxy/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "common/text.hpp"

namespace relay::proxy {

namespace {

constexpr std::array<std::uint8_t, 12> v2_signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_prefix{"PROXY "};
constexpr std::size_t v2_fixed_bytes = 16;

proxy_header incomplete() { return {}; }

proxy_header invalid(char const* why)
{
    proxy_header h;
    h.status = proxy_header::state::invalid;
    h.error = why;
    return h;
}

proxy_header complete(std::size_t length, std::optional<ip_address> source)
{
    proxy_header h;
    h.status = proxy_header::state::complete;
    h.length = length;
    h.source = source;
    return h;
}

/// True if `received` is a prefix of `signature` or starts with all of it.
template <class Signature>
bool matches_so_far(std::span<std::uint8_t const> received, Signature const& signature)
{
    std::size_t const n = std::min(received.size(), std::size(signature));
    for (std::size_t i = 0; i < n; ++i)
        if (received[i] != static_cast<std::uint8_t>(signature[i]))
            return false;
    return true;
}

/// Splits off the text up to the next single space.
std::string_view next_field(std::string_view& line)
{
    auto const space = line.find(' ');
    std::string_view const field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    return field;
}

proxy_header parse_v1(std::span<std::uint8_t const> received)
{
    std::string_view const text(reinterpret_cast<char const*>(received.data()),
                                std::min(received.size(), max_v1_header_bytes));
    auto const cr = text.find('\r');
    if (cr == std::string_view::npos)
        return received.size() >= max_v1_header_bytes ? invalid("v1 header without CRLF in 107 bytes") : incomplete();
    if (cr + 1 == text.size())
        return received.size() >= max_v1_header_bytes ? invalid("v1 header without CRLF in 107 bytes") : incomplete();
    if (text[cr + 1] != '\n')
        return invalid("v1 header: CR without LF");
    std::size_t const length = cr + 2;
    std::string_view line = text.substr(v1_prefix.size(), cr - v1_prefix.size());
    if (line.find('\n') != std::string_view::npos)
        return invalid("v1 header: stray LF");
    std::string_view const protocol = next_field(line);
    // UNKNOWN: the proxy could not tell; the rest of the line is ignored.
    if (protocol == "UNKNOWN")
        return complete(length, std::nullopt);
    if (protocol != "TCP4" && protocol != "TCP6")
        return invalid("v1 header: protocol is not TCP4, TCP6 or UNKNOWN");
    std::string_view const source = next_field(line);
    std::string_view const destination = next_field(line);
    std::string_view const source_port = next_field(line);
    std::string_view const destination_port = line;
    auto const src = ip_address::parse(source);
    auto const dst = ip_address::parse(destination);
    bool const want_v4 = protocol == "TCP4";
    if (!src || !dst || src->is_v4() != want_v4 || dst->is_v4() != want_v4)
        return invalid("v1 header: an address does not match its protocol");
    // An IPv4-mapped address written as TCP6 parses as IPv4 above; the
    // specification's TCP6 addresses are real IPv6, so that is refused too.
    if (!is_decimal_port(source_port, false) || !is_decimal_port(destination_port, false))
        return invalid("v1 header: malformed port");
    return complete(length, src);
}

std::uint16_t read_be16(std::uint8_t const* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

/// TLVs must tile the rest of the header exactly; their contents are not
/// used (ALPN, authority, SSL details, unique ids).
bool tlvs_well_formed(std::span<std::uint8_t const> tlvs)
{
    while (!tlvs.empty()) {
        if (tlvs.size() < 3)
            return false;
        std::size_t const length = read_be16(tlvs.data() + 1);
        if (tlvs.size() < 3 + length)
            return false;
        tlvs = tlvs.subspan(3 + length);
    }
    return true;
}

proxy_header parse_v2(std::span<std::uint8_t const> received)
{
    if (received.size() < v2_fixed_bytes)
        return incomplete();
    std::uint8_t const version = received[12] >> 4;
    std::uint8_t const command = received[12] & 0x0f;
    std::uint8_t const family = received[13] >> 4;
    std::uint8_t const transport = received[13] & 0x0f;
    std::size_t const length = v2_fixed_bytes + read_be16(received.data() + 14);
    if (version != 2)
        return invalid("v2 header: version is not 2");
    if (command > 1)
        return invalid("v2 header: command is neither LOCAL nor PROXY");
    // Values beyond the specification's must be refused (section 2.2).
    if (family > 3 || transport > 2)
        return invalid("v2 header: unknown address family or transport");
    if (length > max_v2_header_bytes)
        return invalid("v2 header: oversized");
    if (received.size() < length)
        return incomplete();
    auto const body = received.subspan(v2_fixed_bytes, length - v2_fixed_bytes);
    // LOCAL: the proxy's own connection (a health check); whatever follows
    // the fixed part is skipped.
    if (command == 0)
        return complete(length, std::nullopt);
    std::size_t addresses = 0;
    std::optional<ip_address> source;
    if (family == 1) { // AF_INET: source, destination, two ports
        addresses = 12;
        if (body.size() < addresses)
            return invalid("v2 header: too short for its IPv4 addresses");
        std::array<std::uint8_t, 4> bytes{};
        std::copy_n(body.data(), 4, bytes.begin());
        source = ip_address::v4(bytes);
    } else if (family == 2) { // AF_INET6
        addresses = 36;
        if (body.size() < addresses)
            return invalid("v2 header: too short for its IPv6 addresses");
        std::array<std::uint8_t, 16> bytes{};
        std::copy_n(body.data(), 16, bytes.begin());
        source = ip_address::v6(bytes);
    } else if (family == 3) { // AF_UNIX: two 108-byte paths, no address of ours to count
        addresses = 216;
        if (body.size() < addresses)
            return invalid("v2 header: too short for its UNIX addresses");
    }
    // family 0 (UNSPEC): the specification says to use the connection's own
    // addresses, and the length may cover anything; TLVs are not expected.
    if (family != 0 && !tlvs_well_formed(body.subspan(addresses)))
        return invalid("v2 header: malformed TLV");
    return complete(length, source);
}

} // namespace

proxy_header parse_proxy_header(std::span<std::uint8_t const> received)
{
    if (received.empty())
        return incomplete();
    if (received[0] == v2_signature[0]) {
        if (!matches_so_far(received, v2_signature))
            return invalid("not a PROXY protocol header");
        return received.size() < v2_signature.size() ? incomplete() : parse_v2(received);
    }
    if (!matches_so_far(received, v1_prefix))
        return invalid("not a PROXY protocol header");
    return received.size() < v1_prefix.size() ? incomplete() : parse_v1(received);
}

} // namespace relay::proxy
