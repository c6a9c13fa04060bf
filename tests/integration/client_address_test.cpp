// The client address behind a trusted proxy (docs/proxies.md), with the
// test as the proxy: it writes PROXY protocol headers and X-Forwarded-For
// itself, so that every case (forgeries, split and malformed headers,
// untrusted peers) is exact. tls_proxy_test.cpp runs real nginx and HAProxy.

#include <arpa/inet.h>

#include <map>
#include <thread>

#include "test_support.hpp"

using namespace relay::testing;

namespace {

/// A PROXY v2 header for TCP over IPv4 from `source` (port 4711) to 127.0.0.1:443.
std::string proxy_v2(std::string const& source, std::uint8_t command = 0x21)
{
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(command);
    h += '\x11';
    h += std::string("\0\x0c", 2);
    in_addr src{}, dst{};
    ::inet_pton(AF_INET, source.c_str(), &src);
    ::inet_pton(AF_INET, "127.0.0.1", &dst);
    h.append(reinterpret_cast<char const*>(&src), 4);
    h.append(reinterpret_cast<char const*>(&dst), 4);
    h += std::string("\x12\x67\x01\xbb", 4);
    return h;
}

connect_options through_proxy_header(std::string const& header)
{
    connect_options o;
    o.path = "/ws";
    o.preamble = header;
    return o;
}

connect_options forwarded_for(std::string const& header, std::string const& source = {})
{
    connect_options o;
    o.path = "/ws";
    o.source = source;
    if (!header.empty())
        o.headers.emplace_back("X-Forwarded-For", header);
    return o;
}

/// Connects with `o`, handshakes as a new client and checks the HandshakeAck.
std::unique_ptr<ws_client> open_session(std::uint16_t port, connect_options const& o)
{
    auto c = std::make_unique<ws_client>(port, o);
    c->send_binary(handshake_frame(random_id()));
    auto const ack = c->receive_envelope();
    expect_payload<relay::protocol::handshake_ack>(ack);
    return c;
}

std::uint64_t metric_of(relay_process const& relay, std::string const& name)
{
    return metric(http_get(relay.metrics_port(), "/metrics"), name);
}

relay_options capped(std::string mode)
{
    auto options = with_env({{"RELAY_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"},
                             {"RELAY_PROXY_PROTOCOL", mode},
                             {"RELAY_PER_IP_EXEMPT_LOOPBACK", "false"},
                             {"RELAY_MAX_CONNECTIONS_PER_IP", "3"},
                             {"RELAY_HANDSHAKE_TIMEOUT", "2"}});
    return options;
}

/// Start-up with `env` exits 1 (configuration error) and logs `message`.
void expect_start_up_refused(std::map<std::string, std::string> env, std::string const& message)
{
    auto options = with_env(std::move(env));
    options.expect_ready = false;
    relay_process relay(options);
    int const status = relay.wait_exit();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1));
    BOOST_TEST(relay.log().find(message) != std::string::npos, message);
}

} // namespace

BOOST_AUTO_TEST_SUITE(client_address)

BOOST_AUTO_TEST_CASE(proxy_protocol_counts_the_client_the_header_names)
{
    relay_process relay(capped("on"));
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.7"))));
    // The 4th from the same client is closed once its header is read, on
    // whichever worker it lands.
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(ws_client::upgrade_status(relay.port(), through_proxy_header(proxy_v2("192.0.2.7"))) == 0u);
    // Other clients behind the same proxy still connect; so does a v1 header.
    held.push_back(open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.8"))));
    held.push_back(open_session(relay.port(), through_proxy_header("PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n")));
    BOOST_TEST(metric_of(relay, "relay_connections_rejected_per_ip_total") == 4u);
    // A slot is free again once one of the client's connections is gone.
    held.erase(held.begin());
    std::this_thread::sleep_for(300ms);
    held.push_back(open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.7"))));
}

BOOST_AUTO_TEST_CASE(proxy_protocol_closes_untrusted_peers_and_bad_headers)
{
    relay_process relay(capped("on"));
    // A peer outside RELAY_TRUSTED_PROXIES, even with a valid header.
    connect_options untrusted = through_proxy_header(proxy_v2("192.0.2.7"));
    untrusted.source = "127.0.0.2";
    BOOST_TEST(ws_client::upgrade_status(relay.port(), untrusted) == 0u);
    BOOST_TEST(metric_of(relay, "relay_connections_rejected_untrusted_total") == 1u);
    // No header, a garbage one, a v1 line that never ends.
    BOOST_TEST(ws_client::upgrade_status(relay.port(), through_proxy_header("")) == 0u);
    BOOST_TEST(ws_client::upgrade_status(relay.port(), through_proxy_header("PROXY TCP9 x\r\n")) == 0u);
    BOOST_TEST(ws_client::upgrade_status(relay.port(), through_proxy_header("PROXY " + std::string(200, 'x'))) == 0u);
    BOOST_TEST(metric_of(relay, "relay_proxy_header_errors_total") == 3u);
    // The relay serves on.
    auto c = open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.9")));
}

BOOST_AUTO_TEST_CASE(a_split_or_late_header_is_waited_for_within_the_handshake_timeout)
{
    relay_process relay(capped("on"));
    namespace net = boost::asio;
    net::io_context ioc;
    // Split: 5 bytes, a pause, the rest with the request behind it.
    net::ip::tcp::socket split(ioc);
    split.connect({net::ip::make_address("127.0.0.1"), relay.port()});
    std::string const header = proxy_v2("192.0.2.7");
    net::write(split, net::buffer(header.substr(0, 5)));
    // A silent peer meanwhile holds nothing up for others.
    net::ip::tcp::socket silent(ioc);
    silent.connect({net::ip::make_address("127.0.0.1"), relay.port()});
    auto other = open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.8")));
    std::this_thread::sleep_for(300ms);
    net::write(split, net::buffer(header.substr(5) + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    std::string response;
    boost::system::error_code ec;
    std::array<char, 4096> buf{};
    while (!ec) {
        auto const n = split.read_some(net::buffer(buf), ec);
        response.append(buf.data(), n);
    }
    BOOST_TEST(response.starts_with("HTTP/1.1 200 OK"));
    // The silent one is closed by RELAY_HANDSHAKE_TIMEOUT (2 s, swept every 250 ms).
    auto const start = std::chrono::steady_clock::now();
    silent.read_some(net::buffer(buf), ec);
    auto const waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST((ec == net::error::eof || ec == net::error::connection_reset));
    BOOST_TEST(waited < 4s);
    // Counted just after the close, by the worker: poll briefly.
    for (int i = 0; i < 20 && metric_of(relay, "relay_proxy_header_errors_total") == 0; ++i)
        std::this_thread::sleep_for(50ms);
    BOOST_TEST(metric_of(relay, "relay_proxy_header_errors_total") == 1u);
}

BOOST_AUTO_TEST_CASE(a_local_header_is_the_proxy_itself)
{
    relay_process relay(capped("on"));
    // HAProxy's own health check: LOCAL, then a plain request.
    std::string const response =
        raw_exchange(relay.port(), proxy_v2("0.0.0.0", 0x20) + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(response.starts_with("HTTP/1.1 200 OK"));
    // LOCAL counts as the proxy's address: 3 sessions, then refused.
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(open_session(relay.port(), through_proxy_header(proxy_v2("0.0.0.0", 0x20))));
    BOOST_TEST(ws_client::upgrade_status(relay.port(), through_proxy_header(proxy_v2("0.0.0.0", 0x20))) == 0u);
    held.push_back(open_session(relay.port(), through_proxy_header(proxy_v2("192.0.2.7"))));
}

BOOST_AUTO_TEST_CASE(forwarded_for_from_a_trusted_proxy_names_the_client)
{
    relay_process relay(capped("off"));
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(open_session(relay.port(), forwarded_for("192.0.2.7")));
    // Refused with 503 before the WebSocket handshake.
    BOOST_TEST(ws_client::upgrade_status(relay.port(), forwarded_for("192.0.2.7")) == 503u);
    // A forgery left of what the proxy appended changes nothing; spaces,
    // ports and a second header field neither.
    BOOST_TEST(ws_client::upgrade_status(relay.port(), forwarded_for("198.51.100.66, 192.0.2.7:4711")) == 503u);
    connect_options two_fields = forwarded_for("198.51.100.66");
    two_fields.headers.emplace_back("X-Forwarded-For", " 192.0.2.7 ");
    BOOST_TEST(ws_client::upgrade_status(relay.port(), two_fields) == 503u);
    held.push_back(open_session(relay.port(), forwarded_for("[2001:db8::7]:443")));
    held.push_back(open_session(relay.port(), forwarded_for("192.0.2.8")));
    BOOST_TEST(metric_of(relay, "relay_connections_rejected_per_ip_total") == 3u);
}

BOOST_AUTO_TEST_CASE(forwarded_for_from_an_untrusted_peer_is_ignored)
{
    relay_process relay(capped("off"));
    std::vector<std::unique_ptr<ws_client>> held;
    // 127.0.0.2 is not trusted: each claims another client, all count as it.
    for (char const* claim : {"192.0.2.1", "192.0.2.2", "192.0.2.3"})
        held.push_back(open_session(relay.port(), forwarded_for(claim, "127.0.0.2")));
    BOOST_TEST(ws_client::upgrade_status(relay.port(), forwarded_for("192.0.2.4", "127.0.0.2")) == 0u);
    // Without a header, a trusted proxy's connection is the proxy's own.
    for (int i = 0; i < 3; ++i)
        held.push_back(open_session(relay.port(), forwarded_for("")));
    BOOST_TEST(ws_client::upgrade_status(relay.port(), forwarded_for("")) == 503u);
}

BOOST_AUTO_TEST_CASE(proxy_settings_that_cannot_work_stop_start_up)
{
    expect_start_up_refused({{"RELAY_PROXY_PROTOCOL", "on"}}, "RELAY_TRUSTED_PROXIES is empty");
    expect_start_up_refused({{"RELAY_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.1/8"}},
                            "RELAY_TRUSTED_PROXIES entry \"10.0.0.1/8\" is invalid");
    relay_process relay(capped("on"));
    BOOST_TEST(relay.log().find("trusted_proxies=127.0.0.1/32,::1/128 client_address_from=proxy-protocol") !=
               std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
