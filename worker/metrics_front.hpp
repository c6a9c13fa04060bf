#pragma once
// The metrics listener (docs/protocol.md#s11-2, RELAY_METRICS_ADDR): /metrics in
// Prometheus text format behind an optional bearer token, /pubkey with the
// Noise public key, /ready for load balancers' checks (ours), / with a
// service description. Every worker accepts on the
// one socket the supervisor opened, so metrics are served while any worker lives.

#include <string>
#include <string_view>

#include "worker/asio_fwd.hpp"
#include "worker/services.hpp"

namespace relay::worker {

/// Serves HTTP/1.1 requests on one connection (keep-alive honoured) until the
/// client closes, asks to close, or stays idle.
net::awaitable<void> serve_metrics_connection(worker_services& services, tcp::socket socket,
                                              std::string noise_public_key_b64);

struct metrics_reply {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    bool www_authenticate = false;
};

/// The routing of §11.2, pure so it is unit-tested without sockets.
/// `authorization` is the request's Authorization header ("" if absent).
metrics_reply route_metrics_request(worker_services& services, std::string_view method, std::string_view target,
                                    std::string_view authorization, std::string_view noise_public_key_b64);

} // namespace relay::worker
