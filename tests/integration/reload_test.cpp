// SIGHUP: the configuration file is re-read, the worker set resized, and every
// child restarted one at a time while the port keeps accepting (no connection refused).

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "resilient_client.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;

namespace {

void write_config(std::string const& path, std::string const& text) { std::ofstream(path) << text; }

/// How many of `n` updates sent at once are acknowledged (the rest were rate-limited).
int acked_of(std::uint16_t port, int n)
{
    auto c = connect_as(port, random_id());
    std::string const bob = random_id();
    for (int i = 0; i < n; ++i)
        c->send_binary(update_frame(bob, {1}, "m" + std::to_string(i)));
    int acked = 0;
    while (c->receive_envelope(500ms))
        ++acked;
    return acked;
}

} // namespace

BOOST_AUTO_TEST_SUITE(reload)

BOOST_AUTO_TEST_CASE(sighup_applies_the_new_configuration_and_worker_count_without_refusing_a_connection)
{
    char tmpl[] = "/tmp/vauchi-relay-conf-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string const conf = std::string(tmpl) + "/relay.env";
    write_config(conf, "# test\nRELAY_RATE_LIMIT=5\nRELAY_WORKERS=2\n");
    relay_options options;
    options.workers = 0; // from the file, so that a reload can change it
    options.extra_args = {"--config", conf};
    relay_process relay(options);
    BOOST_TEST(acked_of(relay.port(), 8) == 5);

    // A bounded connect loop runs through the whole roll.
    std::atomic<bool> done{false};
    std::atomic<int> refused{0}, served{0};
    std::jthread prober([&](std::stop_token stop) {
        // Runs through the whole roll and then until it has made enough
        // connections to mean something, however fast the roll was.
        while (!stop.stop_requested() && (!done || served < 15)) {
            if (try_connect(relay.port(), random_id()))
                ++served;
            else
                ++refused;
            std::this_thread::sleep_for(20ms);
        }
    });

    write_config(conf, "RELAY_RATE_LIMIT=1000\nRELAY_WORKERS=3\n");
    ::kill(relay.pid(), SIGHUP);
    BOOST_TEST(relay.wait_for_log("reload complete: 3 workers", 30000ms));
    done = true;
    prober.join();
    BOOST_TEST(refused.load() == 0);
    BOOST_TEST(served.load() > 10);
    BOOST_TEST(relay.children().size() == 4u); // 3 workers + cleanup
    BOOST_TEST(acked_of(relay.port(), 8) == 8);

    // Shrinking works too, and an invalid file leaves everything running.
    write_config(conf, "RELAY_RATE_LIMIT=1000\nRELAY_WORKERS=1\n");
    ::kill(relay.pid(), SIGHUP);
    BOOST_TEST(relay.wait_for_log("reload complete: 1 workers", 30000ms));
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(relay.children().size() == 2u);
    write_config(conf, "RELAY_RATE_LIMIT=plenty\n");
    ::kill(relay.pid(), SIGHUP);
    BOOST_TEST(relay.wait_for_log("reload failed, the running configuration stays: RELAY_RATE_LIMIT", 5000ms));
    BOOST_TEST(acked_of(relay.port(), 8) == 8);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_SUITE_END()
