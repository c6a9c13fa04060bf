#pragma once
// The client's address of a WebSocket upgrade forwarded by a trusted proxy,
// from its X-Forwarded-For header (docs/proxies.md#x-forwarded-for). Each
// proxy appends the address it received the connection from, so the list
// reads client, proxy 1, proxy 2, … and only its right end was written by
// proxies we trust. A pure parser: no sockets, nothing of the relay.

#include <optional>
#include <string_view>

#include "common/ip_address.hpp"

namespace relay::proxy {

/// One list entry: an address, optionally with a port ("192.0.2.7:4711",
/// "[2001:db8::1]:443") and surrounded by spaces or tabs. nullopt for
/// anything else ("unknown", obfuscated identifiers, names, garbage).
std::optional<ip_address> parse_forwarded_entry(std::string_view entry);

/// Walks `header` (every X-Forwarded-For field of the request joined with
/// commas) from the right and returns the first address that is not in
/// `trusted`: the usual rule, as nginx's real_ip_recursive and HAProxy's
/// documentation give it. If every entry is trusted, or the walk meets an
/// entry that does not parse before it finds one, the client is the last
/// trusted address it passed (at first `peer`, the proxy that connected):
/// whatever lies left of an unreadable entry cannot be vouched for.
ip_address client_from_forwarded_for(std::string_view header, ip_address const& peer, ip_block_list const& trusted);

} // namespace relay::proxy
