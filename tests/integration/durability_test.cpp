// Acknowledged blobs survive restarts, supervisor SIGKILL and worker crashes;
// expired blobs are swept (docs/architecture.md#design-1–2, docs/protocol.md#s8-4).

#include <signal.h>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::encrypted_update;

namespace {

struct stored_blob {
    std::string recipient;
    std::vector<std::uint8_t> data;
};

std::vector<stored_blob> store_some(std::uint16_t port, int count)
{
    std::vector<stored_blob> out;
    auto s = connect_as(port, random_id());
    for (int i = 0; i < count; ++i) {
        out.push_back({random_id(), random_bytes(static_cast<std::size_t>(10 + i * 997 % 90000))});
        s->send_binary(update_frame(out.back().recipient, out.back().data, "d" + std::to_string(i)));
        expect_ack(*s, "d" + std::to_string(i), ack_status::stored);
    }
    return out;
}

void expect_delivered(std::uint16_t port, std::vector<stored_blob> const& blobs)
{
    for (auto const& b : blobs) {
        auto r = connect_as(port, b.recipient);
        auto const e = r->receive_envelope();
        BOOST_REQUIRE(expect_payload<encrypted_update>(e).ciphertext == b.data);
    }
}

/// Gone or a zombie (an orphan's zombie waits for whoever reaps orphans here).
bool process_alive(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return false;
    auto const close_paren = line.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] != 'Z';
}

/// Resident and total KiB of the supervisor's mapping whose path contains
/// `path_part` (the store), from /proc/PID/smaps.
std::pair<std::uint64_t, std::uint64_t> mapping_rss_kib(pid_t pid, std::string const& path_part)
{
    std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
    std::string line;
    bool in_store = false;
    std::uint64_t size = 0;
    std::uint64_t rss = 0;
    while (std::getline(smaps, line)) {
        // A mapping starts with "start-end perms offset dev inode path"; its
        // fields follow as "Name:   value kB".
        std::string const first = line.substr(0, line.find(' '));
        if (first.find('-') != std::string::npos && first.back() != ':')
            in_store = line.find(path_part) != std::string::npos;
        else if (in_store && first == "Size:")
            size += std::stoull(line.substr(5));
        else if (in_store && first == "Rss:")
            rss += std::stoull(line.substr(4));
    }
    return {rss, size};
}

} // namespace

BOOST_AUTO_TEST_SUITE(durability)

BOOST_AUTO_TEST_CASE(a_prefaulted_store_is_resident_before_ready_and_keeps_working)
{
    // RELAY_STORE_PREFAULT: every page of the store is faulted in
    // before the relay reports ready, for both backends; nothing else changes.
    for (std::string backend : {"file", "memory"}) {
        BOOST_TEST_CONTEXT(backend)
        {
            relay_process relay(with_env({{"RELAY_STORE_PREFAULT", "true"}, {"RELAY_STORAGE_BACKEND", backend}}));
            BOOST_TEST(relay.log().find("store prefault done: ") != std::string::npos);
            BOOST_TEST(relay.log().find("store_prefault=true") != std::string::npos);
            auto const [rss, size] = mapping_rss_kib(relay.pid(), backend == "file" ? "/store" : "/vauchi-relay-");
            BOOST_TEST_MESSAGE(backend << " store mapping: " << rss << " of " << size << " KiB resident");
            BOOST_TEST(size >= 64u * 1024);
            BOOST_TEST(rss >= size * 95 / 100);
            if (backend == "memory") {
                // A fork copies no page-table entry of a shared mapping: each
                // worker maps the prefaulted pages itself, so that no store
                // takes a page fault for a page already in memory.
                for (auto const& [slot, pid] : relay.worker_pids()) {
                    auto const [worker_rss, worker_size] = mapping_rss_kib(pid, "/vauchi-relay-");
                    BOOST_TEST(worker_rss >= worker_size * 95 / 100,
                               "worker " << slot << ": " << worker_rss << " of " << worker_size << " KiB");
                }
            }
            auto const blobs = store_some(relay.port(), 6);
            expect_delivered(relay.port(), blobs);
        }
    }
    // Without it, a fresh store is not resident.
    relay_process lazy;
    auto const [rss, size] = mapping_rss_kib(lazy.pid(), "/store");
    BOOST_TEST(rss < size / 2);
}

BOOST_AUTO_TEST_CASE(sigterm_drains_with_going_away_and_exits_cleanly)
{
    relay_process relay;
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < 8; ++i)
        clients.push_back(connect_as(relay.port(), random_id()));
    // Upgraded to WebSocket, but no relay Handshake yet: it gets 1001 too,
    // rather than holding the drain until its 5 s deadline.
    for (int i = 0; i < 4; ++i)
        clients.push_back(std::make_unique<ws_client>(relay.port()));
    std::string const bob = random_id();
    clients[0]->send_binary(update_frame(bob, {1, 2, 3}, "before-stop"));
    expect_ack(*clients[0], "before-stop", ack_status::stored);
    auto const stopping = std::chrono::steady_clock::now();
    ::kill(relay.pid(), SIGTERM);
    for (auto& c : clients) {
        BOOST_TEST(c->closed_within(3000ms));
        BOOST_TEST(c->close_code() == 1001u); // going away
    }
    int const status = relay.wait_exit();
    auto const took = std::chrono::steady_clock::now() - stopping;
    BOOST_TEST(took < 2s,
               "the drain took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    BOOST_TEST(relay.log().find("stopped (exit code 0)") != std::string::npos);
    relay.restart();
    auto r = connect_as(relay.port(), bob);
    BOOST_TEST(r->receive_envelope().has_value());
}

BOOST_AUTO_TEST_CASE(acknowledged_blobs_survive_a_clean_restart)
{
    relay_process relay;
    auto const blobs = store_some(relay.port(), 30);
    int const status = relay.stop();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    relay.restart();
    BOOST_TEST(relay.log().find("store ready: 30 blobs") != std::string::npos);
    expect_delivered(relay.port(), blobs);
}

BOOST_AUTO_TEST_CASE(acknowledged_blobs_survive_sigkill_of_the_supervisor_and_no_child_outlives_it)
{
    relay_process relay;
    auto const blobs = store_some(relay.port(), 30);
    auto const children = relay.children();
    BOOST_TEST(children.size() == 5u); // 4 workers + cleanup
    std::uint16_t const old_port = relay.port();
    relay.kill_hard();
    // PR_SET_PDEATHSIG: every child is gone within a second.
    auto const deadline = std::chrono::steady_clock::now() + 1000ms;
    bool all_gone = false;
    while (!all_gone && std::chrono::steady_clock::now() < deadline) {
        all_gone = true;
        for (pid_t p : children)
            all_gone = all_gone && !process_alive(p);
        std::this_thread::sleep_for(10ms);
    }
    BOOST_TEST(all_gone);
    BOOST_CHECK_THROW(ws_client{old_port}, std::exception);
    relay.restart();
    BOOST_TEST(relay.log().find("was not closed cleanly") != std::string::npos);
    expect_delivered(relay.port(), blobs);
}

BOOST_AUTO_TEST_CASE(killed_worker_is_respawned_and_loses_nothing)
{
    relay_process relay;
    auto const blobs = store_some(relay.port(), 20);
    auto const before = relay.worker_pids();
    BOOST_REQUIRE(before.size() == 4u);
    ::kill(before.at(2), SIGKILL);
    BOOST_TEST(relay.wait_for_log("worker 2 (pid", 3000ms));
    auto const deadline = std::chrono::steady_clock::now() + 3000ms;
    while (relay.worker_pids().at(2) == before.at(2) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    BOOST_TEST(relay.worker_pids().at(2) != before.at(2));
    expect_delivered(relay.port(), blobs);
    auto const more = store_some(relay.port(), 10);
    expect_delivered(relay.port(), more);
}

BOOST_AUTO_TEST_CASE(connections_arriving_while_a_worker_respawns_wait_instead_of_failing)
{
    // Each slot's listening socket belongs to the supervisor, so connections
    // the kernel assigns to a dead worker's slot queue until its successor
    // accepts them.
    relay_process relay;
    int failures = 0;
    for (int round = 0; round < 3; ++round) {
        ::kill(relay.worker_pids().at(static_cast<unsigned>(round % 4)), SIGKILL);
        std::vector<std::unique_ptr<ws_client>> storm;
        for (int i = 0; i < 60; ++i) {
            try {
                auto c = std::make_unique<ws_client>(relay.port());
                c->send_binary(handshake_frame(random_id()));
                storm.push_back(std::move(c));
            } catch (std::exception const&) {
                ++failures;
            }
        }
        for (auto& c : storm) {
            auto const e = c->receive_envelope(5000ms);
            failures += !(e && std::holds_alternative<relay::protocol::handshake_ack>(e->body));
        }
        std::this_thread::sleep_for(200ms);
    }
    BOOST_TEST(failures == 0);
    BOOST_TEST(relay.log().find("was killed by signal 9") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(expired_blobs_are_swept_by_the_cleanup_process)
{
    relay_process relay(with_env({{"RELAY_BLOB_TTL_SECS", "1"}, {"RELAY_CLEANUP_INTERVAL", "1"}}));
    auto const blobs = store_some(relay.port(), 5);
    // Blobs stored across a second boundary may expire in two sweeps ("expired
    // 3", then "expired 2"), so wait for the first sweep and then for the
    // next one to have had its chance.
    BOOST_TEST(relay.wait_for_log("expired ", 6000ms));
    std::this_thread::sleep_for(2500ms);
    for (auto const& b : blobs) {
        auto r = connect_as(relay.port(), b.recipient);
        BOOST_TEST(r->silent_for(200ms));
    }
}

BOOST_AUTO_TEST_CASE(memory_backend_serves_and_is_volatile)
{
    relay_process relay(with_env({{"RELAY_STORAGE_BACKEND", "memory"}}));
    auto const blobs = store_some(relay.port(), 5);
    expect_delivered(relay.port(), blobs);
    relay.restart();
    BOOST_TEST(relay.log().find("store ready: 0 blobs") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_second_relay_on_the_same_data_directory_is_refused)
{
    relay_process first;
    auto const blobs = store_some(first.port(), 3);
    relay_options options;
    options.data_dir = first.data_dir();
    options.expect_ready = false;
    relay_process second(options);
    int const status = second.wait_exit();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 2));
    BOOST_TEST(second.log().find("another vauchi-relay is using") != std::string::npos);
    expect_delivered(first.port(), blobs); // the first one is unharmed
}

BOOST_AUTO_TEST_CASE(a_foreign_store_file_is_refused_and_left_untouched)
{
    char tmpl[] = "/tmp/vauchi-relay-it-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string const dir = tmpl;
    std::filesystem::create_directories(dir + "/data");
    std::string const garbage(100000, 'x');
    std::ofstream(dir + "/data/store") << garbage;
    relay_options options;
    options.data_dir = dir;
    options.expect_ready = false;
    {
        relay_process relay(options);
        int const status = relay.wait_exit();
        // Exit code 3: the store fails its checks (a damaged store, never respawned into a loop).
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 3));
        BOOST_TEST(relay.log().find("is not a vauchi-relay store") != std::string::npos);
    }
    std::ifstream in(dir + "/data/store");
    std::string const after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST((after == garbage));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
