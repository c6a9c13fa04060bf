#include "worker/metrics_front.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

#include "worker/metrics_text.hpp"

namespace relay::worker {

namespace http = beast::http;

namespace {

constexpr std::uint32_t max_request_header_bytes = 8 * 1024;
/// A request body is read and ignored (no route takes one), up to this size:
/// a POST with a body gets its 405 instead of a closed connection.
constexpr std::uint64_t max_ignored_body_bytes = 64 * 1024;
/// A scraper keeps its connection between scrapes (typically 15–60 s apart).
constexpr auto idle_limit = std::chrono::seconds(90);

} // namespace

metrics_reply route_metrics_request(worker_services& services, std::string_view method, std::string_view target,
                                    std::string_view authorization, std::string_view noise_public_key_b64)
{
    std::string_view const path = target.substr(0, target.find('?'));
    bool const known = path == "/metrics" || path == "/pubkey" || path == "/" || path == "/ready";
    if (!known)
        return {404, {}, {}, false};
    if (method != "GET" && method != "HEAD")
        return {405, {}, {}, false};
    if (path == "/metrics") {
        std::string const& token = services.cfg().metrics_token;
        if (!token.empty() && authorization != "Bearer " + token)
            return {401, "text/plain; charset=utf-8", "Unauthorized", true};
        return {200, "text/plain; version=0.0.4", render_metrics(services.store()), false};
    }
    // Ours, for a load balancer's checks (deploy/haproxy/): readiness, which
    // a draining worker withdraws so that no new client is sent to a relay on
    // its way down. /health stays the main port's, as in the Rust relay.
    if (path == "/ready") {
        if (services.draining())
            return {503, "application/json", R"({"status":"draining"})", false};
        return {200, "application/json", R"({"status":"ready"})", false};
    }
    if (path == "/pubkey") {
        if (noise_public_key_b64.empty())
            return {404, "text/plain; charset=utf-8", "Noise not configured", false};
        return {200, "text/plain; charset=utf-8", std::string(noise_public_key_b64), false};
    }
    return {200, "application/json",
            R"({"service":"vauchi-relay-metrics","version":"1.1.0","endpoints":["/metrics","/pubkey"]})", false};
}

net::awaitable<void> serve_metrics_connection(worker_services& services, tcp::socket socket,
                                              std::string noise_public_key_b64)
{
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        stream.expires_after(idle_limit);
        http::request_parser<http::string_body> parser;
        parser.header_limit(max_request_header_bytes);
        parser.body_limit(max_ignored_body_bytes);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (ec)
            co_return; // closed, idle, oversized or not HTTP: nothing to answer
        auto const& req = parser.get();
        auto authorization = req[http::field::authorization];
        metrics_reply const reply =
            route_metrics_request(services, std::string_view(req.method_string().data(), req.method_string().size()),
                                  std::string_view(req.target().data(), req.target().size()),
                                  std::string_view(authorization.data(), authorization.size()), noise_public_key_b64);

        http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
        res.set(http::field::server, "vauchi-relay");
        if (!reply.content_type.empty())
            res.set(http::field::content_type, reply.content_type);
        if (reply.www_authenticate)
            res.set(http::field::www_authenticate, "Bearer");
        if (reply.status == 405)
            res.set(http::field::allow, "GET, HEAD");
        res.keep_alive(req.keep_alive());
        res.body() = reply.body;
        res.prepare_payload(); // Content-Length of the body, also for HEAD
        if (req.method() == http::verb::head)
            res.body().clear();
        http::response_serializer<http::string_body> sr{res};
        if (req.method() == http::verb::head)
            sr.split(true);
        stream.expires_after(std::chrono::seconds(10));
        if (req.method() == http::verb::head) {
            auto [wec, wn] = co_await http::async_write_header(stream, sr, use_nothrow);
            if (wec)
                co_return;
        } else {
            auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
            if (wec)
                co_return;
        }
        if (!res.keep_alive())
            break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

} // namespace relay::worker
