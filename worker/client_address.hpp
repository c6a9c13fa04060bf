#pragma once
// Who a connection on the main port is, for RELAY_MAX_CONNECTIONS_PER_IP and
// RELAY_PER_IP_EXEMPT_LOOPBACK (docs/proxies.md): the TCP peer itself, or,
// behind a peer listed in RELAY_TRUSTED_PROXIES, the client that peer names
// in a PROXY protocol header or in X-Forwarded-For. The cap counts the client
// across the whole relay (D-11).

#include <boost/beast/core/flat_buffer.hpp>

#include "common/ip_address.hpp"
#include "worker/asio_fwd.hpp"
#include "worker/connection_slot.hpp"
#include "worker/proxy/proxy_header.hpp"

namespace relay::worker {

/// Where the client address of a connection comes from.
enum class address_source {
    peer,          ///< the TCP peer is the client, counted at accept
    proxy_header,  ///< RELAY_PROXY_PROTOCOL=on: the header before the first byte
    forwarded_for, ///< a trusted peer: X-Forwarded-For of the upgrade request
};

struct connection_origin {
    address_source source = address_source::peer;
    ip_address peer; ///< the TCP peer (the proxy, unless source is peer)
};

/// The address of a TCP endpoint (as accept() reports the peer).
ip_address address_of(tcp::endpoint const& endpoint);

/// Applies the per-address cap to `client`: true if the connection may stay
/// (counted in `slot`, or exempt), false if the client already has
/// RELAY_MAX_CONNECTIONS_PER_IP connections (counted as a rejection).
bool admit_client(worker_services& services, ip_address const& client, connection_slot& slot);

/// Reads the PROXY protocol header at the start of `stream` into `buffer`
/// and consumes it there; what the client sent after it stays in `buffer`.
/// The stream's deadline (the handshake timeout) bounds the wait.
net::awaitable<proxy::proxy_header> read_proxy_header(beast::tcp_stream& stream, beast::flat_buffer& buffer);

} // namespace relay::worker
