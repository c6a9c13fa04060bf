#include "worker/http_front.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "worker/proxy/forwarded_for.hpp"

namespace relay::worker {

namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

/// Header bytes we accept before the upgrade; browsers and proxies stay far below.
constexpr std::uint32_t max_request_header_bytes = 8 * 1024;
/// A plain request's body is read and ignored up to this size (a POST gets
/// its 405); beyond it the connection is closed.
constexpr std::uint64_t max_ignored_body_bytes = 8 * 1024;

/// The answer to an upgrade whose client is over RELAY_MAX_CONNECTIONS_PER_IP.
constexpr char const per_ip_refusal[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                        "Connection: close\r\n\r\n";

/// The client a trusted proxy names in X-Forwarded-For; a request may carry
/// the header several times, which reads as one comma-separated list.
ip_address forwarded_client(worker_services& services, http::request<http::string_body> const& req,
                            ip_address const& peer)
{
    std::string joined;
    auto const [first, last] = req.equal_range("X-Forwarded-For");
    for (auto field = first; field != last; ++field) {
        if (!joined.empty())
            joined += ',';
        joined.append(field->value().data(), field->value().size());
    }
    return proxy::client_from_forwarded_for(joined, peer, services.cfg().trusted_proxies);
}

std::string health_json(worker_services& services)
{
    std::uint64_t const now = clock::relay_unix(); // uptime ignores clock steps
    std::uint64_t const start = services.relay_start_unix();
    return "{\"status\":\"healthy\",\"version\":\"1.1.0\",\"uptime_seconds\":" +
        std::to_string(now > start ? now - start : 0) +
        ",\"blob_count\":" + std::to_string(services.store().totals().blobs) + "}";
}

} // namespace

std::string health_response(worker_services& services, std::string_view method, std::string_view target)
{
    bool const health = target == "/health" || target == "/up" || target == "/ready";
    if (method != "GET" && method != "HEAD") {
        // Not the Rust relay's (it closes without a response): an operator's
        // probe with the wrong method learns why. Any GET target is answered
        // (the info JSON), so the paths a method is wrong for are these.
        bool const known = health || target == "/";
        std::string const status = known ? "405 Method Not Allowed" : "404 Not Found";
        return "HTTP/1.1 " + status + "\r\n" + (known ? "Allow: GET, HEAD\r\n" : "") +
            "Content-Length: 0\r\nConnection: close\r\n\r\n";
    }
    std::string body;
    if (health) {
        body = health_json(services);
    } else {
        body = "{\"error\":\"This is a WebSocket relay endpoint\"}";
    }
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + (method == "HEAD" ? std::string() : body);
}

net::awaitable<void> serve_connection(worker_services& services, session_registry& registry, tcp::socket socket,
                                      connection_slot slot, connection_origin origin)
{
    auto const accepted = std::chrono::steady_clock::now();
    auto const handshake_deadline = accepted + std::chrono::seconds(services.cfg().handshake_timeout_secs);
    beast::tcp_stream stream(std::move(socket));
    // The HTTP part must finish within the handshake deadline (D-1), which is
    // never later than the idle timeout that bounds it in the Rust relay.
    stream.expires_at(handshake_deadline);

    beast::flat_buffer buffer;
    if (origin.source == address_source::proxy_header) {
        // The header comes first, within the handshake deadline; what the
        // client sent behind it stays in `buffer` for the request parser.
        auto const header = co_await read_proxy_header(stream, buffer);
        if (header.status != proxy::proxy_header::state::complete) {
            services.count(shm::counter::proxy_header_errors_total);
            services.count(shm::counter::connection_errors_total);
            RELAY_LOG_DEBUG("PROXY header refused: %s", header.error);
            co_return;
        }
        // LOCAL and UNKNOWN headers name no client: the proxy itself is one.
        if (!admit_client(services, header.source.value_or(origin.peer), slot))
            co_return; // closed, as a refusal at accept is
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_request_header_bytes);
    parser.body_limit(max_ignored_body_bytes);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec) {
        services.count(shm::counter::connection_errors_total);
        co_return;
    }
    auto const& req = parser.get();
    if (websocket::is_upgrade(req)) {
        if (req.target() == "/federation") // federation is not served (docs/protocol.md#s2-2 step 6)
            co_return;
        if (origin.source == address_source::forwarded_for &&
            !admit_client(services, forwarded_client(services, req, origin.peer), slot)) {
            // Decided before the WebSocket handshake: the proxy passes the
            // 503 on, so the client learns why.
            [[maybe_unused]] auto [wec, wn] =
                co_await net::async_write(stream, net::buffer(std::string_view(per_ip_refusal)), use_nothrow);
            beast::error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
        }
        stream.expires_never();
        ws_session::stream_type ws(std::move(stream));
        ws.set_option(websocket::stream_base::decorator([](websocket::response_type&) {}));
        // No permessage-deflate and no subprotocol (§2.3): Beast's defaults.
        beast::get_lowest_layer(ws).expires_at(handshake_deadline);
        auto [aec] = co_await ws.async_accept(req, use_nothrow);
        if (aec) {
            services.count(shm::counter::connection_errors_total);
            co_return;
        }
        beast::get_lowest_layer(ws).expires_never();
        auto session =
            std::make_shared<ws_session>(services, registry, std::move(ws), std::move(slot), handshake_deadline);
        session->start();
        co_return;
    }
    std::string const response =
        health_response(services, std::string_view(req.method_string().data(), req.method_string().size()),
                        std::string_view(req.target().data(), req.target().size()));
    [[maybe_unused]] auto [wec, wn] = co_await net::async_write(stream, net::buffer(response), use_nothrow);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

} // namespace relay::worker
