#pragma once
// The first bytes of every connection on the main port (D-2): the request is
// parsed as HTTP; a WebSocket upgrade becomes a client session, a plain GET of
// /health, /up or /ready gets the health JSON, any other GET the info JSON
// (docs/protocol.md#s11-1), and anything else is closed without a response.
// With RELAY_PROXY_PROTOCOL=on a PROXY header comes before the request.

#include "worker/asio_fwd.hpp"
#include "worker/client_address.hpp"
#include "worker/connection_slot.hpp"
#include "worker/ws_session.hpp"

namespace relay::worker {

/// Serves one accepted connection until it becomes a session or is closed.
/// Behind a trusted proxy (`origin`), it first learns the client address from
/// the PROXY header or the upgrade's X-Forwarded-For and applies the
/// per-address cap to it (docs/proxies.md).
net::awaitable<void> serve_connection(worker_services& services, session_registry& registry, tcp::socket socket,
                                      connection_slot slot, connection_origin origin);

/// The plain-HTTP answer to a request without Upgrade (exact bytes,
/// Connection: close): GET as docs/protocol.md#s11-1 says, HEAD the same
/// without the body, any other method 405 (with Allow) on a known path and
/// 404 elsewhere.
std::string health_response(worker_services& services, std::string_view method, std::string_view target);

} // namespace relay::worker
