#pragma once
// Opening a protocol session: TCP connect, WebSocket upgrade, Handshake, and
// the HandshakeAck, as a client of docs/protocol.md#s4-1 does (v1, unauthenticated).

#include <string_view>

#include "bench/bench_net.hpp"

namespace bench::loadgen {

/// Client-side stream settings: one unfragmented frame per message (as real
/// clients send), a cheap mask generator, no Nagle delay on our side.
void configure_client(ws_stream& ws);

/// Connects `ws` to `endpoint`, upgrades on `path`, sends `handshake` and reads
/// until the HandshakeAck. Every step is bounded by one deadline. False on any
/// failure (the caller counts it). `preamble`, if any, is written right after
/// the TCP connect (a PROXY protocol header): held back with MSG_MORE to share
/// the upgrade request's segment, or sent in a segment of its own.
enum class preamble_segment { with_request, own };
net::awaitable<bool> open_session(ws_stream& ws, beast::flat_buffer& buffer, tcp::endpoint endpoint,
                                  std::string_view path, std::string_view handshake, std::string_view preamble = {},
                                  preamble_segment preamble_mode = preamble_segment::with_request);

/// Sends a Close frame and waits (bounded) for the server's; errors are ignored.
net::awaitable<void> close_session(ws_stream& ws);

} // namespace bench::loadgen
