// Admission, HTTP, handshake and timeouts (docs/protocol.md#s2, §4, §11.1, D-1, D-2).

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/wait.h>

#include <thread>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
namespace net = boost::asio;

BOOST_AUTO_TEST_SUITE(relay_core)

BOOST_AUTO_TEST_CASE(health_paths_answer_the_health_json_and_others_the_info_json)
{
    relay_process relay;
    for (std::string path : {"/health", "/up", "/ready"}) {
        auto const reply = raw_exchange(relay.port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        BOOST_TEST(reply.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "));
        BOOST_TEST(reply.find("\r\nConnection: close\r\n\r\n{\"status\":\"healthy\",\"version\":\"1.1.0\","
                              "\"uptime_seconds\":") != std::string::npos);
        BOOST_TEST(reply.find(",\"blob_count\":0}") != std::string::npos);
    }
    // D-2: exact paths only (the Rust relay's substring match is gone).
    for (std::string path : {"/healthz", "/update", "/"}) {
        auto const reply = raw_exchange(relay.port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        BOOST_TEST(reply.ends_with("\r\n\r\n{\"error\":\"This is a WebSocket relay endpoint\"}"));
    }
    // Other methods: 405 naming the allowed ones on a known path, 404 elsewhere,
    // also with a body; HEAD gets the GET's headers.
    for (std::string path : {"/health", "/up", "/ready", "/"}) {
        auto const reply =
            raw_exchange(relay.port(), "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        BOOST_TEST(reply.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"), path);
    }
    BOOST_TEST(raw_exchange(relay.port(), "DELETE /nothing HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404"));
    auto const head = raw_exchange(relay.port(), "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(head.starts_with("HTTP/1.1 200 OK\r\n"));
    BOOST_TEST(head.ends_with("\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(valid_handshake_gets_handshake_ack_with_the_feature_list)
{
    relay_process relay;
    ws_client c(relay.port(), "/anything");
    c.send_binary(handshake_frame(random_id()));
    auto const e = c.receive_envelope();
    auto const& ack = expect_payload<relay::protocol::handshake_ack>(e);
    BOOST_TEST(ack.protocol_version == 1u);
    BOOST_TEST(ack.server_version == "1.1.0");
    std::vector<std::string> const expected{"routing_token",    "suppress_presence",       "purge",
                                            "device_sync",      "recovery_proof",          "account_revoked",
                                            "forwarding_hints", "authenticated_handshake", "live_push"};
    BOOST_TEST(ack.features == expected, boost::test_tools::per_element());
    BOOST_TEST(e->message_id.size() == 36u);
}

BOOST_AUTO_TEST_CASE(invalid_handshakes_are_dropped_without_a_reply)
{
    relay_process relay;
    std::vector<std::string> const bad{
        handshake_frame("not-hex"),
        handshake_frame(std::string(63, 'a')),
        handshake_frame(random_id(), with_token("zz")),
        handshake_frame(random_id(), with_device(std::string(64, 'g'))),
        update_frame(random_id(), {1, 2}, "m"), // any other first message
        std::string("\x00\x00", 2),             // shorter than the prefix
        std::string("\x00\x00\x00\x02{}", 6),   // no envelope
    };
    for (auto const& frame : bad) {
        ws_client c(relay.port());
        c.send_binary(frame);
        BOOST_TEST(c.closed_within(3000ms));
    }
    ws_client text(relay.port());
    text.send_text(handshake_frame(random_id()));
    BOOST_TEST(text.closed_within(3000ms));
}

BOOST_AUTO_TEST_CASE(partial_auth_fields_are_rejected_like_a_bad_signature)
{
    relay_process relay;
    relay::protocol::handshake h;
    h.client_id = random_id();
    h.nonce = std::string(64, '4'); // D-3: one auth field without the others
    ws_client c(relay.port());
    c.send_binary(frame_of(h, "x"));
    BOOST_TEST(c.closed_within(3000ms));
}

BOOST_AUTO_TEST_CASE(silent_connection_is_closed_at_the_handshake_deadline)
{
    relay_process relay(with_env({{"RELAY_HANDSHAKE_TIMEOUT", "1"}}));
    auto const started = std::chrono::steady_clock::now();
    ws_client c(relay.port());
    BOOST_TEST(c.closed_within(4000ms));
    BOOST_TEST((std::chrono::steady_clock::now() - started < 3000ms));
    // Also a bare TCP connection that never sends a request (D-1).
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    s.connect({net::ip::make_address("127.0.0.1"), relay.port()});
    std::array<char, 16> buf{};
    boost::system::error_code ec;
    s.read_some(net::buffer(buf), ec); // returns when the relay closes it
    BOOST_TEST(!!ec);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 5000ms));
}

BOOST_AUTO_TEST_CASE(idle_connection_is_closed_after_the_idle_timeout_and_pings_are_answered)
{
    relay_process relay(with_env({{"RELAY_IDLE_TIMEOUT", "2"}}));
    auto c = connect_as(relay.port(), random_id());
    c->ping();
    BOOST_TEST(c->silent_for(500ms)); // pong is a control frame, not a message
    BOOST_TEST(c->pong_received());
    auto const started = std::chrono::steady_clock::now();
    BOOST_TEST(c->closed_within(5000ms));
    BOOST_TEST((std::chrono::steady_clock::now() - started > 1000ms));
}

BOOST_AUTO_TEST_CASE(connection_limit_holds_for_the_whole_relay)
{
    relay_process relay(with_env({{"RELAY_MAX_CONNECTIONS", "3"}}));
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(connect_as(relay.port(), random_id()));
    // Four workers, three connections spread over them: the fourth is refused
    // wherever it lands (D-11).
    for (int i = 0; i < 4; ++i)
        BOOST_CHECK_THROW(ws_client(relay.port()), std::exception);
    held.pop_back();
    std::this_thread::sleep_for(200ms);
    auto again = connect_as(relay.port(), random_id());
}

BOOST_AUTO_TEST_CASE(invalid_configuration_stops_start_up_naming_the_variable)
{
    auto options = with_env({{"RELAY_RATE_LIMIT", "lots"}});
    options.expect_ready = false;
    relay_process relay(options);
    int const status = relay.wait_exit();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
    BOOST_TEST(relay.log().find("RELAY_RATE_LIMIT=\"lots\" is invalid") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
