// Process liveness (docs/architecture.md#liveness): a worker stopped while it
// holds a store lock must not wedge the relay. The supervisor takes no store
// lock itself, kills the silent worker after RELAY_HEARTBEAT_TIMEOUT, and the
// relay serves again. Stopping at a named point exists only in a
// -Dfault_injection=true build.

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using namespace std::chrono_literals;

namespace {

bool is_stopped(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto const after_name = line.rfind(')');
    return after_name != std::string::npos && after_name + 2 < line.size() && line[after_name + 2] == 'T';
}

/// The worker stopped at the stop point, waited for up to `timeout`.
pid_t wait_for_stopped_worker(relay_process const& relay, std::chrono::milliseconds timeout)
{
    auto const until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        for (auto const& [slot, pid] : relay.worker_pids())
            if (is_stopped(pid))
                return pid;
        std::this_thread::sleep_for(20ms);
    }
    return 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(liveness)

BOOST_AUTO_TEST_CASE(a_worker_stopped_holding_the_shard_lock_is_killed_and_the_relay_serves_again)
{
    char tmpl[] = "/tmp/vauchi-relay-stall-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.workers = 3;
    options.extra_args = {"--shards", "1"}; // every put needs the one shard lock
    options.env = {{"VAUCHI_KILL_POINT", "put.after_alloc:3"},
                   {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                   {"VAUCHI_KILL_POINT_SIGNAL", "STOP"},
                   {"RELAY_HEARTBEAT_TIMEOUT", "2"},
                   {"RELAY_RATE_LIMIT", "100000"}};
    relay_process relay(options);

    // Clients store until one worker stops inside a put, holding the lock.
    std::vector<std::unique_ptr<ws_client>> senders;
    for (int s = 0; s < 6; ++s)
        senders.push_back(connect_as(relay.port(), random_id()));
    for (auto& sender : senders)
        for (int i = 0; i < 5; ++i)
            sender->send_binary(update_frame(random_id(), {1, 2, 3}, "m" + std::to_string(i)));
    pid_t const stopped = wait_for_stopped_worker(relay, 5s);
    BOOST_TEST_REQUIRE(stopped != 0, "no worker stopped at put.after_alloc; log:\n" << relay.log());
    // The cleanup process dies meanwhile: cleaning up after it takes every
    // shard lock, that one too. Before, the supervisor blocked there for good:
    // no signal read, no respawn, no watchdog.
    std::set<pid_t> workers;
    for (auto const& [slot, pid] : relay.worker_pids())
        workers.insert(pid);
    pid_t cleanup = 0;
    for (pid_t pid : relay.children())
        if (!workers.contains(pid))
            cleanup = pid;
    BOOST_TEST_REQUIRE(cleanup != 0);
    ::kill(cleanup, SIGKILL);
    BOOST_TEST(relay.wait_for_log("has not heartbeated", 8s));
    BOOST_TEST(relay.wait_for_log("it holds a store lock", 100ms));
    // The relay serves again: a blob is stored and delivered.
    auto const deadline = std::chrono::steady_clock::now() + 15s;
    bool served = false;
    std::string const bob = random_id();
    while (!served && std::chrono::steady_clock::now() < deadline) {
        try {
            auto c = connect_as(relay.port(), random_id());
            c->send_binary(update_frame(bob, {9}, "after"));
            auto const e = c->receive_envelope(2s);
            served = e && std::holds_alternative<relay::protocol::acknowledgment>(e->body);
        } catch (std::exception const&) {
            std::this_thread::sleep_for(200ms);
        }
    }
    BOOST_TEST_REQUIRE(served);
    BOOST_TEST(connect_as(relay.port(), bob)->receive_envelope().has_value());
    BOOST_TEST(metric(http_get(relay.metrics_port(), "/metrics"), "relay_worker_stall_kills_total") >= 1u);
    // The supervisor answers signals: SIGTERM drains and exits cleanly.
    int const status = relay.stop(10s);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_CASE(a_cleanup_process_stopped_holding_the_shard_lock_is_killed_not_the_workers_behind_it)
{
    char tmpl[] = "/tmp/vauchi-relay-stall-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.workers = 2;
    options.extra_args = {"--shards", "1"};
    options.env = {{"VAUCHI_KILL_POINT", "expire.before_delete:1"},
                   {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                   {"VAUCHI_KILL_POINT_SIGNAL", "STOP"},
                   {"RELAY_HEARTBEAT_TIMEOUT", "2"},
                   {"RELAY_BLOB_TTL_SECS", "1"},
                   {"RELAY_CLEANUP_INTERVAL", "1"}};
    relay_process relay(options);
    auto sender = connect_as(relay.port(), random_id());
    sender->send_binary(update_frame(random_id(), {1}, "expires"));
    expect_ack(*sender, "expires", ack_status::stored);
    // The cleanup process stops while it expires that blob, holding the lock.
    std::set<pid_t> workers;
    for (auto const& [slot, pid] : relay.worker_pids())
        workers.insert(pid);
    pid_t cleanup = 0;
    auto const until = std::chrono::steady_clock::now() + 6s;
    while (cleanup == 0 && std::chrono::steady_clock::now() < until) {
        for (pid_t pid : relay.children())
            if (!workers.contains(pid) && is_stopped(pid))
                cleanup = pid;
        std::this_thread::sleep_for(20ms);
    }
    BOOST_TEST_REQUIRE(cleanup != 0, "the cleanup process did not stop at expire.before_delete");
    // A store now waits for the lock, and its worker stops heartbeating.
    sender->send_binary(update_frame(random_id(), {2}, "behind-the-lock"));
    BOOST_TEST(relay.wait_for_log("killing the cleanup process", 8s));
    expect_ack(*sender, "behind-the-lock", ack_status::stored); // the same connection: no worker was killed
    BOOST_TEST(relay.log().find("is stopped") != std::string::npos);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_SUITE_END()
