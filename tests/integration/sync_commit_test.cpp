// RELAY_SYNC_COMMIT and RELAY_SYNC_INTERVAL_MS (docs/store.md, "Durability to
// disk"), through the real binary: with `on`, Stored acks leave only after a
// flush, and one flush covers many stores (group commit); `on` with the
// memory backend is refused. That no Stored leaves before its flush has
// finished is proven with a kill point in fault_injection_test.cpp.

#include <sys/wait.h>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;

BOOST_AUTO_TEST_SUITE(sync_commit)

BOOST_AUTO_TEST_CASE(pipelined_stores_are_acknowledged_after_group_flushes)
{
    relay_options options;
    options.workers = 2;
    options.env = {{"RELAY_SYNC_COMMIT", "on"}, {"RELAY_RATE_LIMIT", "100000"}};
    relay_process relay(options);
    BOOST_TEST(relay.log().find("sync_commit=on") != std::string::npos);
    constexpr int count = 200;
    auto s = connect_as(relay.port(), random_id());
    std::string const recipient = random_id();
    for (int i = 0; i < count; ++i)
        s->send_binary(update_frame(recipient, random_bytes(256), "u" + std::to_string(i)));
    for (int i = 0; i < count; ++i)
        expect_ack(*s, "u" + std::to_string(i), ack_status::stored);
    std::string const text = http_get(relay.metrics_port(), "/metrics");
    auto const flushes = metric(text, "relay_store_sync_flushes_total");
    auto const records = metric(text, "relay_store_sync_records_total");
    BOOST_TEST_MESSAGE("200 pipelined stores: " << flushes << " flushes");
    BOOST_TEST(records == std::uint64_t{count});
    BOOST_TEST(flushes >= 1u);
    BOOST_TEST(flushes < std::uint64_t{count}); // grouped, not one per store
    // Everything acknowledged is there after a restart.
    relay.restart();
    auto r = connect_as(relay.port(), recipient);
    for (int i = 0; i < count; ++i)
        BOOST_TEST_REQUIRE(r->receive_envelope().has_value());
}

BOOST_AUTO_TEST_CASE(sync_commit_with_the_memory_backend_is_a_configuration_error)
{
    relay_options options;
    options.env = {{"RELAY_SYNC_COMMIT", "on"}, {"RELAY_STORAGE_BACKEND", "memory"}};
    options.expect_ready = false;
    relay_process relay(options);
    int const status = relay.wait_exit();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1));
    BOOST_TEST(relay.log().find("RELAY_SYNC_COMMIT=on needs a store on disk") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(with_sync_commit_off_the_background_flush_runs_and_stores_are_not_held)
{
    relay_options options;
    options.env = {{"RELAY_SYNC_INTERVAL_MS", "50"}};
    relay_process relay(options);
    BOOST_TEST(relay.log().find("sync_commit=off sync_interval_ms=50") != std::string::npos);
    auto s = connect_as(relay.port(), random_id());
    s->send_binary(update_frame(random_id(), random_bytes(100), "x"));
    expect_ack(*s, "x", ack_status::stored);
    BOOST_TEST(metric(http_get(relay.metrics_port(), "/metrics"), "relay_store_sync_flushes_total") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
