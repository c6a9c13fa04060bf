// Hostile clients (issue 5): limits that hold across workers.

#include <thread>

#include "test_support.hpp"

using namespace relay::testing;

BOOST_AUTO_TEST_SUITE(hostile)

BOOST_AUTO_TEST_CASE(per_address_cap_holds_across_workers_and_spares_other_addresses)
{
    relay_options options;
    options.env["RELAY_MAX_CONNECTIONS_PER_IP"] = "3";
    options.env["RELAY_PER_IP_EXEMPT_LOOPBACK"] = "false"; // every 127.x address is its own client here
    relay_process relay(options);
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(std::make_unique<ws_client>(relay.port(), "/ws", "127.0.0.1"));
    // Four workers: wherever the next ones land, they are refused without a reply.
    for (int i = 0; i < 4; ++i)
        BOOST_CHECK_THROW(ws_client(relay.port(), "/ws", "127.0.0.1"), std::exception);
    // Another address is another client.
    for (int i = 0; i < 3; ++i)
        ws_client other(relay.port(), "/ws", "127.0.0.2");
    held.pop_back();
    std::this_thread::sleep_for(200ms);
    ws_client again(relay.port(), "/ws", "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(loopback_peers_are_exempt_by_default_as_a_local_tls_proxy_would_be)
{
    relay_options options;
    options.env["RELAY_MAX_CONNECTIONS_PER_IP"] = "2";
    relay_process relay(options);
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 6; ++i)
        held.push_back(std::make_unique<ws_client>(relay.port(), "/ws"));
}

BOOST_AUTO_TEST_SUITE_END()
