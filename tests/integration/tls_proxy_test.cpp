// The relay behind the real TLS proxies of deploy/: nginx passing the client
// in X-Forwarded-For, HAProxy in a PROXY v2 header (docs/proxies.md). Clients
// speak wss:// and verify the proxy's certificate against a throwaway CA;
// each binds its own loopback source address, so the relay sees distinct
// real clients only through what the proxy tells it.

#include <thread>

#include "common/random.hpp"
#include "test_support.hpp"
#include "tls_proxies.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::encrypted_update;

namespace {

/// Relay idle timeout of these tests, and the proxies' own (the example's
/// 360 s against 300 s, scaled down).
constexpr auto relay_idle = std::chrono::seconds(3);
constexpr auto proxy_idle = std::chrono::seconds(5);

struct proxied_relay {
    explicit proxied_relay(proxy_kind kind)
        : relay(with_env({{"RELAY_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"},
                          {"RELAY_PROXY_PROTOCOL", kind == proxy_kind::haproxy ? "on" : "off"},
                          {"RELAY_PER_IP_EXEMPT_LOOPBACK", "false"},
                          {"RELAY_MAX_CONNECTIONS_PER_IP", "3"},
                          {"RELAY_IDLE_TIMEOUT", std::to_string(relay_idle.count())}})),
          proxy(tls, proxy_options{kind, relay.port(), relay.metrics_port(), proxy_idle})
    {
        BOOST_TEST_MESSAGE("proxy: " << proxy_process::version(kind));
    }

    /// wss:// through the proxy from `source`.
    connect_options client(std::string const& source) const
    {
        connect_options o = direct(source);
        o.tls_ca_file = tls.ca_file();
        return o;
    }

    /// A plain ws:// connection straight to the relay from `source`, past the proxy.
    static connect_options direct(std::string const& source)
    {
        connect_options o;
        o.path = "/ws";
        o.source = source;
        return o;
    }

    /// A wss:// session through the proxy from `source`, handshaken.
    std::unique_ptr<ws_client> session(std::string const& source, std::string const& id = random_id()) const
    {
        auto c = std::make_unique<ws_client>(proxy.port(), client(source));
        c->send_binary(handshake_frame(id));
        auto const ack = c->receive_envelope();
        expect_payload<relay::protocol::handshake_ack>(ack);
        return c;
    }

    relay_process relay;
    tls_material tls;
    proxy_process proxy;
};

void sessions_store_deliver_and_push(proxied_relay const& r)
{
    std::string const alice = random_id(), bob = random_id();
    auto sender = r.session("127.0.0.2", alice);
    // Stored for an offline recipient, delivered when it connects.
    auto const first = random_bytes(300);
    sender->send_binary(update_frame(bob, first, "m1"));
    expect_ack(*sender, "m1", ack_status::stored);
    auto recipient = r.session("127.0.0.3", bob);
    auto const e = recipient->receive_envelope();
    BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == first, boost::test_tools::per_element());
    expect_ack(*sender, "m1", ack_status::delivered);
    recipient->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
    expect_ack(*sender, "m1", ack_status::received_by_recipient);
    // Live push to the connected recipient, within a second.
    auto const second = random_bytes(4000);
    sender->send_binary(update_frame(bob, second, "m2"));
    expect_ack(*sender, "m2", ack_status::stored);
    auto const pushed = recipient->receive_envelope(1000ms);
    BOOST_TEST(expect_payload<encrypted_update>(pushed).ciphertext == second, boost::test_tools::per_element());
}

/// 3 sessions from one client address; the 4th from it is refused with
/// `refusal` (the HTTP status the client sees, 0 for a closed connection),
/// while another address still connects.
void the_cap_counts_each_client(proxied_relay const& r, unsigned refusal)
{
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(r.session("127.0.0.4"));
    BOOST_TEST(ws_client::upgrade_status(r.proxy.port(), r.client("127.0.0.4")) == refusal);
    for (int i = 0; i < 3; ++i)
        held.push_back(r.session("127.0.0.5"));
    BOOST_TEST(ws_client::upgrade_status(r.proxy.port(), r.client("127.0.0.5")) == refusal);
    held.push_back(r.session("127.0.0.6"));
    BOOST_TEST(metric(http_get(r.relay.metrics_port(), "/metrics"), "relay_connections_rejected_per_ip_total") == 2u);
}

/// A session through the proxy that pings well within the relay's idle
/// timeout outlives both idle timeouts; one that does not is closed by the
/// relay, not the proxy, at about its idle timeout.
void pings_keep_a_session_through_the_proxy(proxied_relay const& r)
{
    std::string const id = random_id();
    auto pinging = r.session("127.0.0.7", id);
    auto idle = r.session("127.0.0.8");
    auto const start = std::chrono::steady_clock::now();
    bool idle_closed = false;
    std::chrono::steady_clock::duration idle_lifetime{};
    // Twice the proxy's own timeout, pinging every second.
    while (std::chrono::steady_clock::now() - start < 2 * proxy_idle) {
        pinging->ping();
        BOOST_REQUIRE(pinging->silent_for(1000ms));
        if (!idle_closed && idle->closed_within(1ms)) {
            idle_closed = true;
            idle_lifetime = std::chrono::steady_clock::now() - start;
        }
    }
    BOOST_TEST(pinging->pong_received());
    BOOST_TEST(idle_closed);
    BOOST_TEST(idle_lifetime < proxy_idle); // the relay's timeout, not the proxy's
    // Still a working session.
    pinging->send_binary(update_frame(id, random_bytes(50), "self"));
    expect_ack(*pinging, "self", ack_status::stored);
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_proxies)

BOOST_AUTO_TEST_CASE(nginx_passes_sessions_stores_deliveries_and_pushes)
{
    proxied_relay r(proxy_kind::nginx);
    sessions_store_deliver_and_push(r);
}

BOOST_AUTO_TEST_CASE(nginx_the_cap_counts_each_client_address)
{
    proxied_relay r(proxy_kind::nginx);
    // The relay answers 503 to the upgrade; nginx passes it on.
    the_cap_counts_each_client(r, 503);
}

BOOST_AUTO_TEST_CASE(nginx_a_forged_forwarded_for_changes_nothing)
{
    proxied_relay r(proxy_kind::nginx);
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(r.session("127.0.0.4"));
    // The client claims to be someone else: nginx appends its real address,
    // which the relay takes.
    for (char const* forged : {"127.0.0.50", "192.0.2.1, 127.0.0.51", "127.0.0.1"}) {
        connect_options o = r.client("127.0.0.4");
        o.headers.emplace_back("X-Forwarded-For", forged);
        BOOST_TEST(ws_client::upgrade_status(r.proxy.port(), o) == 503u, forged);
    }
}

BOOST_AUTO_TEST_CASE(nginx_a_direct_peer_s_forwarded_for_is_ignored)
{
    proxied_relay r(proxy_kind::nginx);
    // Straight to the relay from an untrusted address, each time claiming
    // another client: all are counted as the peer.
    auto claiming = [](std::string const& claim) {
        connect_options o = proxied_relay::direct("127.0.0.9");
        o.headers.emplace_back("X-Forwarded-For", claim);
        return o;
    };
    std::vector<std::unique_ptr<ws_client>> held;
    for (char const* claim : {"192.0.2.1", "192.0.2.2", "192.0.2.3"})
        held.push_back(std::make_unique<ws_client>(r.relay.port(), claiming(claim)));
    BOOST_TEST(ws_client::upgrade_status(r.relay.port(), claiming("192.0.2.4")) == 0u);
}

BOOST_AUTO_TEST_CASE(nginx_pings_keep_a_session_past_both_idle_timeouts)
{
    proxied_relay r(proxy_kind::nginx);
    pings_keep_a_session_through_the_proxy(r);
}

BOOST_AUTO_TEST_CASE(haproxy_passes_sessions_stores_deliveries_and_pushes)
{
    proxied_relay r(proxy_kind::haproxy);
    sessions_store_deliver_and_push(r);
}

BOOST_AUTO_TEST_CASE(haproxy_the_cap_counts_each_client_address)
{
    proxied_relay r(proxy_kind::haproxy);
    // The relay closes the connection once the header is read; HAProxy then
    // closes the client's.
    the_cap_counts_each_client(r, 0);
}

BOOST_AUTO_TEST_CASE(haproxy_mode_refuses_a_peer_that_is_not_a_trusted_proxy)
{
    proxied_relay r(proxy_kind::haproxy);
    BOOST_TEST(ws_client::upgrade_status(r.relay.port(), proxied_relay::direct("127.0.0.9")) == 0u);
    std::string const metrics = http_get(r.relay.metrics_port(), "/metrics");
    BOOST_TEST(metric(metrics, "relay_connections_rejected_untrusted_total") == 1u);
    // HAProxy's health checks reach /ready on the metrics port, not the
    // main port: no header errors.
    BOOST_TEST(metric(metrics, "relay_proxy_header_errors_total") == 0u);
}

BOOST_AUTO_TEST_CASE(haproxy_pings_keep_a_session_past_both_idle_timeouts)
{
    proxied_relay r(proxy_kind::haproxy);
    pings_keep_a_session_through_the_proxy(r);
}

BOOST_AUTO_TEST_SUITE_END()
