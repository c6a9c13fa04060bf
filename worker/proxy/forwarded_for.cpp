#include "worker/proxy/forwarded_for.hpp"

#include "common/text.hpp"

namespace relay::proxy {

namespace {

/// Entries walked from the right at most: a request header is at most 8 KiB,
/// and no real chain of proxies is this long.
constexpr int max_entries_walked = 64;

} // namespace

std::optional<ip_address> parse_forwarded_entry(std::string_view entry)
{
    entry = trim_blanks(entry);
    if (entry.starts_with('[')) { // [IPv6] or [IPv6]:port
        auto const close = entry.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        std::string_view const rest = entry.substr(close + 1);
        if (!rest.empty() && !(rest.front() == ':' && is_decimal_port(rest.substr(1), true)))
            return std::nullopt;
        auto const address = ip_address::parse(entry.substr(1, close - 1));
        if (!address || address->is_v4())
            return std::nullopt;
        return address;
    }
    // A bare IPv6 address has several colons; IPv4 with a port has one.
    auto const colon = entry.find(':');
    if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
        if (!is_decimal_port(entry.substr(colon + 1), true))
            return std::nullopt;
        auto const address = ip_address::parse(entry.substr(0, colon));
        if (!address || !address->is_v4())
            return std::nullopt;
        return address;
    }
    return ip_address::parse(entry);
}

ip_address client_from_forwarded_for(std::string_view header, ip_address const& peer, ip_block_list const& trusted)
{
    ip_address client = peer;
    for (int walked = 0; walked < max_entries_walked && !header.empty(); ++walked) {
        auto const comma = header.rfind(',');
        std::string_view const entry = comma == std::string_view::npos ? header : header.substr(comma + 1);
        header = comma == std::string_view::npos ? std::string_view() : header.substr(0, comma);
        if (trim_blanks(entry).empty())
            continue; // "a,,b" or a trailing comma: nothing was written there
        auto const address = parse_forwarded_entry(entry);
        if (!address)
            return client;
        client = *address;
        if (!trusted.contains(client))
            return client;
    }
    return client;
}

} // namespace relay::proxy
