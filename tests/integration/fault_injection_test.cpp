// Every named kill point of the store, hit for real (docs/architecture.md#design-2-8): a relay
// built with -Dfault_injection=true is told to SIGKILL whichever process first
// reaches the point, while clients keep working. Afterwards nothing blocks,
// the store verifies, and every blob acknowledged `Stored` (and not deleted by
// its recipient) is still delivered with exact bytes.

#include <boost/test/data/test_case.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "common/random.hpp"
#include "shm/store.hpp"
#include "resilient_client.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::acknowledgment;
using relay::protocol::encrypted_update;
namespace protocol = relay::protocol;

namespace {

enum class workload { store, deliver_and_ack, connect_cycle, expire, live_push, compact };

struct kill_case {
    char const* points; ///< VAUCHI_KILL_POINT value
    workload work;
    char const* repair_log; ///< what the survivor logs when it cleans up after the kill
};

std::ostream& operator<<(std::ostream& os, kill_case const& k) { return os << k.points; }

kill_case const cases[] = {
    {"put.after_alloc:5", workload::store, "rebuilt from chunk headers"},
    // Outside the lock, while the payload is copied: the supervisor frees the
    // dead writer's reservation.
    {"put.after_reserve:3", workload::store, "freed the record it was writing"},
    {"put.after_write:3", workload::store, "freed the record it was writing"},
    {"put.before_commit:5", workload::store, "rebuilt from chunk headers"},
    {"put.after_commit:5", workload::store, "rebuilt from chunk headers"},
    {"put.quota_half_updated:5", workload::store, "rebuilt from chunk headers"},
    {"put.after_link:5", workload::store, "rebuilt from chunk headers"},
    {"alloc.page_taken:3", workload::store, "rebuilt from chunk headers"},
    {"pool.take_after_pop:3", workload::store, "page pool: previous lock holder died"},
    {"delete.after_uncommit:5", workload::deliver_and_ack, "rebuilt from chunk headers"},
    {"delete.after_unlink:5", workload::deliver_and_ack, "rebuilt from chunk headers"},
    {"free.before_bitmap:5", workload::deliver_and_ack, "rebuilt from chunk headers"},
    {"free.page_unlinked:2", workload::deliver_and_ack, "rebuilt from chunk headers"},
    {"pool.give_back_after_owner:2", workload::deliver_and_ack, "page pool: previous lock holder died"},
    {"table.erase_shift:2", workload::connect_cycle, "rebuilt from chunk headers"},
    {"attach.after_presence:5", workload::connect_cycle, "rebuilt from chunk headers"},
    {"detach.presence_half_updated:5", workload::connect_cycle, "rebuilt from chunk headers"},
    {"expire.before_delete:3", workload::expire, "rebuilt from chunk headers"},
    {"expire.after_delete:3", workload::expire, "rebuilt from chunk headers"},
    {"ring.before_publish:3", workload::live_push, "notification ring reset"},
    {"put.before_commit:3,repair.after_free_lists:1", workload::store, "rebuilt from chunk headers"},
    // In the cleanup process, moving records off sparse pages (docs/store.md, "Compaction").
    {"compact.after_copy:5", workload::compact, "rebuilt from chunk headers"},
    {"compact.after_link:5", workload::compact, "rebuilt from chunk headers"},
    {"compact.before_release:3", workload::compact, "rebuilt from chunk headers"},
};

enum class sizes { mixed, small, fragmenting, whole_pages };

std::vector<std::uint8_t> payload(std::size_t i, sizes what)
{
    // Mixed sizes, some above one 64 KiB chunk so chains and continuations
    // occur; fragmenting ones take chunks of three small classes each; whole
    // pages take one page-sized chunk each, so every delete returns a page.
    std::size_t const n = what == sizes::small ? 20 + i % 200
        : what == sizes::fragmenting           ? 2000 + i * 37 % 1000
        : what == sizes::whole_pages           ? 40000 + i * 37 % 20000
        : i % 7 == 3                           ? 70000 + i * 13
                                               : 20 + i * 131 % 3000;
    auto v = random_bytes(n);
    return v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fault_injection)

namespace {

/// The long mode (docs/chaos.md): VAUCHI_KILL_REPEAT=100 runs every case that
/// many times, each time with another hit count and another number of workers.
int kill_repeats()
{
    char const* v = std::getenv("VAUCHI_KILL_REPEAT");
    return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 1;
}

/// `points` with every hit count shifted by `shift` (1 to 8 in turn), so the
/// kill lands in another state of the store each repetition.
std::string shifted_points(std::string const& points, int shift)
{
    if (shift == 0)
        return points;
    std::string out;
    std::size_t start = 0;
    while (start <= points.size()) {
        std::size_t const end = std::min(points.find(',', start), points.size());
        std::string const one = points.substr(start, end - start);
        std::size_t const colon = one.rfind(':');
        int const n = std::atoi(one.c_str() + colon + 1);
        out += (out.empty() ? "" : ",") + one.substr(0, colon + 1) + std::to_string(1 + (n - 1 + shift) % 8);
        start = end + 1;
    }
    return out;
}

void run_kill_case(kill_case const& kc, std::string const& points, int workers);

} // namespace

BOOST_DATA_TEST_CASE(a_process_killed_at_the_point_loses_nothing_acknowledged, boost::unit_test::data::make(cases), kc)
{
    int const repeats = kill_repeats();
    for (int i = 0; i < repeats; ++i) {
        std::string const points = shifted_points(kc.points, i);
        int const workers = repeats == 1 ? 3 : 2 + i % 3;
        BOOST_TEST_CONTEXT("repetition " << i + 1 << " of " << repeats << ": " << points << ", " << workers
                                         << " workers")
        run_kill_case(kc, points, workers);
        if (repeats > 1 && (i + 1) % 10 == 0)
            BOOST_TEST_MESSAGE(kc.points << ": " << i + 1 << " of " << repeats << " repetitions passed");
    }
}

namespace {

void run_kill_case(kill_case const& kc, std::string const& points, int workers)
{
    char tmpl[] = "/tmp/vauchi-relay-fi-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.workers = workers;
    options.extra_args = {"--shards", "1"}; // one shard: every operation meets the point
    options.env = {{"VAUCHI_KILL_POINT", points},
                   {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                   {"RELAY_MAX_STORAGE_BYTES", "16777216"},
                   {"RELAY_RATE_LIMIT", "100000"},
                   {"RELAY_MAX_CONNECTIONS", "200"}};
    // Erasing from a probe run needs a crowded presence table: many ids
    // connecting, and RELAY_MAX_CONNECTIONS 120 sizes it at 256 entries
    // (120 + 64 must fit three quarters), so the cap fills it to 47 %.
    bool const crowded = points.starts_with("table.");
    if (crowded)
        options.env["RELAY_MAX_CONNECTIONS"] = "120";
    if (kc.work == workload::expire) {
        options.env["RELAY_BLOB_TTL_SECS"] = "1";
        options.env["RELAY_CLEANUP_INTERVAL"] = "1";
    }
    relay_process relay(options);
    std::uint16_t const port = relay.port();

    blob_set expected; // acknowledged Stored and not acknowledged back by the recipient
    blob_set sent;     // everything ever sent, retries included
    std::vector<std::string> recipients;
    for (int i = 0; i < (crowded ? 150 : 12); ++i)
        recipients.push_back(random_id());

    resilient_sender sender(port);
    // The page-return points count page returns per worker: with up to four
    // workers sharing the deletes, each needs more than the 8 the long mode
    // shifts a hit count to.
    bool const returns_pages = points.starts_with("free.page_unlinked") || points.starts_with("pool.give_back");
    sizes const size_mix = crowded     ? sizes::small
        : kc.work == workload::compact ? sizes::fragmenting
        : returns_pages                ? sizes::whole_pages
                                       : sizes::mixed;
    auto store_round = [&](int count, int salt) {
        for (int i = 0; i < count; ++i) {
            auto const& r = recipients[static_cast<std::size_t>(i + salt) % recipients.size()];
            auto const data = payload(static_cast<std::size_t>(i + salt * 100), size_mix);
            sent[r].insert(data);
            if (sender.store(r, data))
                expected[r].insert(data);
        }
    };

    std::vector<std::unique_ptr<ws_client>> online;
    switch (kc.work) {
    case workload::store:
    case workload::expire:
        store_round(60, 0);
        break;
    case workload::deliver_and_ack:
        store_round(returns_pages ? 120 : 60, 0);
        // Each recipient acknowledges over the connection its blobs arrive on,
        // and reads until quiet before closing (see the compaction workload):
        // every ack reaches the relay, so every page the blobs held empties.
        for (auto const& r : recipients) {
            auto c = try_connect(port, r, suppressed());
            if (!c)
                continue; // a worker just died: its acks are the kill's
            std::size_t n = 0;
            try {
                while (auto const e = c->receive_envelope(n < expected[r].size() ? 3000ms : 200ms)) {
                    auto const* u = std::get_if<encrypted_update>(&e->body);
                    if (u == nullptr)
                        continue;
                    ++n;
                    if (auto it = expected[r].find(u->ciphertext); it != expected[r].end())
                        expected[r].erase(it); // its fate now depends on when the ack met the kill
                    c->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
                }
            } catch (std::exception const&) {
                // the worker serving this connection met the kill point
            }
        }
        break;
    case workload::compact:
        // Over half the store in small records, then nine in ten acknowledged:
        // the cleanup process compacts within a second and meets the point.
        // Only the cleanup process can die here, so one pipelined sender will do.
        {
            auto c = connect_as(port, random_id());
            int in_flight = 0;
            std::vector<std::pair<std::string, std::vector<std::uint8_t>>> window;
            auto collect = [&] {
                auto const e = c->receive_envelope(10000ms);
                auto const& ack = expect_payload<acknowledgment>(e);
                std::size_t const i = static_cast<std::size_t>(std::stoi(ack.message_id.substr(1)));
                if (ack.status == ack_status::stored)
                    expected[window[i].first].insert(window[i].second);
                --in_flight;
            };
            for (std::size_t i = 0; i < 4000; ++i) {
                auto const& r = recipients[i % recipients.size()];
                window.emplace_back(r, payload(i, sizes::fragmenting));
                sent[r].insert(window.back().second);
                c->send_binary(update_frame(r, window.back().second, "c" + std::to_string(i)));
                if (++in_flight == 32)
                    collect();
            }
            while (in_flight > 0)
                collect();
        }
        // One connection per recipient reads its blobs and acknowledges nine in
        // ten as they arrive, and reads until quiet before it closes: a socket
        // closed with unread data sends a reset, and the relay would drop the
        // acknowledgments it had not read yet.
        for (auto const& r : recipients) {
            auto c = try_connect(port, r, suppressed());
            BOOST_REQUIRE(c != nullptr);
            std::size_t n = 0;
            while (auto const e = c->receive_envelope(n < expected[r].size() ? 3000ms : 200ms)) {
                auto const* u = std::get_if<encrypted_update>(&e->body);
                if (u == nullptr)
                    continue;
                if (n++ % 10 == 0)
                    continue; // kept: must survive every move
                c->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
                if (auto it = expected[r].find(u->ciphertext); it != expected[r].end())
                    expected[r].erase(it);
            }
        }
        break;
    case workload::connect_cycle:
        store_round(10, 0);
        // Crowded: one connection per id (the cap admits 120 at a time) and
        // more rounds, so that erasing shifts displaced entries.
        for (int round = 0; round < (crowded ? 6 : 3); ++round) {
            std::vector<std::unique_ptr<ws_client>> live;
            for (auto const& r : recipients)
                for (int k = 0; k < (crowded ? 1 : 3); ++k)
                    live.push_back(try_connect(port, r, suppressed()));
        }
        break;
    case workload::live_push:
        // They stay online for the round after the kill too, so that the ring
        // the dead worker was writing is used (and repaired) again.
        for (auto const& r : recipients)
            online.push_back(try_connect(port, r, suppressed()));
        store_round(60, 0);
        break;
    }

    // Compaction runs once a second, and only once the acknowledgments have
    // left the store fragmented: give it longer.
    BOOST_TEST_REQUIRE(relay.wait_for_log("was killed by signal 9", kc.work == workload::compact ? 20000ms : 5000ms),
                       "the workload never reached " << points);
    // Another round meets the shard (or ring) the dead process left behind.
    store_round(10, 1);
    BOOST_TEST(relay.wait_for_log(kc.repair_log, 5000ms), "no repair logged after the kill at " << points);

    if (kc.work == workload::expire) {
        BOOST_TEST(relay.wait_for_log("expired", 6000ms));
        expected.clear(); // everything expires; the point is that expiry goes on
        std::this_thread::sleep_for(2500ms);
    }

    // Every acknowledged blob is delivered, byte for byte; nothing else appears.
    for (auto const& r : recipients) {
        auto remaining = expected[r];
        for (auto const& e : drain_all_of(port, r, remaining)) {
            auto const* u = std::get_if<encrypted_update>(&e.body);
            BOOST_REQUIRE(u != nullptr);
            // Never a torn or foreign blob: every delivery is something sent.
            BOOST_TEST(sent[r].count(u->ciphertext) > 0u);
            if (auto it = remaining.find(u->ciphertext); it != remaining.end())
                remaining.erase(it);
        }
        BOOST_TEST(remaining.empty(), remaining.size() << " acknowledged blobs lost after a kill at " << points);
    }

    // The live store verifies while the relay keeps running.
    std::string const check = relay_binary() + " --check-store --data-dir " + relay.data_dir() + "/data";
    BOOST_TEST(std::system((check + " > /dev/null").c_str()) == 0);
    std::filesystem::remove_all(tmpl);
}

} // namespace

BOOST_AUTO_TEST_CASE(with_sync_commit_no_stored_ack_leaves_before_the_flush_that_covers_it)
{
    // RELAY_SYNC_COMMIT=on: the worker dies at its first group flush, before
    // msync. The stores it covered are committed in memory, but their
    // Stored acks are held until the flush: the client sees none of them.
    char tmpl[] = "/tmp/vauchi-relay-fi-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.workers = 1;
    options.env = {{"VAUCHI_KILL_POINT", "sync.before_flush:1"},
                   {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                   {"RELAY_SYNC_COMMIT", "on"},
                   {"RELAY_RATE_LIMIT", "100000"}};
    relay_process relay(options);
    {
        auto s = connect_as(relay.port(), random_id());
        int acks = 0;
        try {
            for (int i = 0; i < 20; ++i)
                s->send_binary(update_frame(random_id(), random_bytes(300), "h" + std::to_string(i)));
            while (auto e = s->receive_envelope(2000ms))
                acks += std::holds_alternative<acknowledgment>(e->body);
        } catch (std::exception const&) {
            // The worker died at its first flush while frames were still being
            // sent: the socket breaks (3 runs in 100 of the long mode).
        }
        BOOST_TEST(acks == 0);
    }
    BOOST_TEST(relay.wait_for_log("was killed by signal 9", 5000ms));
    // The point fired once: the respawned worker flushes, and acks flow.
    auto s = connect_as(relay.port(), random_id());
    s->send_binary(update_frame(random_id(), random_bytes(300), "after"));
    expect_ack(*s, "after", ack_status::stored);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_CASE(workers_that_crash_on_start_back_off_and_the_supervisor_gives_up)
{
    relay_options options;
    options.workers = 2;
    options.env = {{"VAUCHI_KILL_POINT", "worker.start:1"}}; // no token: every start dies
    options.expect_ready = false;
    relay_process relay(options);
    auto const started = std::chrono::steady_clock::now();
    int const status = relay.wait_exit(std::chrono::seconds(30));
    auto const took = std::chrono::steady_clock::now() - started;
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 2));
    BOOST_TEST(relay.log().find("crashed on start; respawning in 100 ms") != std::string::npos);
    BOOST_TEST(relay.log().find("respawning in 800 ms") != std::string::npos); // doubling per slot
    BOOST_TEST(relay.log().find("giving up") != std::string::npos);
    BOOST_TEST((took > 1000ms)); // backed off, did not spin
}

BOOST_AUTO_TEST_CASE(a_shard_damaged_from_outside_makes_the_supervisor_rebuild_the_store_and_carry_on)
{
    char tmpl[] = "/tmp/vauchi-relay-fi-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.workers = 2;
    options.extra_args = {"--shards", "1"};
    options.env = {{"VAUCHI_KILL_POINT", "put.after_link:6"},
                   {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                   {"RELAY_RATE_LIMIT", "100000"}};
    relay_process relay(options);
    resilient_sender sender(relay.port());
    std::string const victim = random_id(), other = random_id();
    BOOST_REQUIRE(sender.store(victim, random_bytes(100000)));
    std::multiset<std::vector<std::uint8_t>> kept;
    for (int i = 0; i < 2; ++i) {
        auto data = random_bytes(500);
        BOOST_REQUIRE(sender.store(other, data));
        kept.insert(data);
    }

    // Damage the victim's continuation chunk behind the relay's back (what a
    // disk error or a stray writer could do; a crash never can).
    {
        std::string const path = relay.data_dir() + "/data/store";
        int fd = ::open(path.c_str(), O_RDWR);
        struct stat st {};
        ::fstat(fd, &st);
        void* base = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        BOOST_REQUIRE(base != MAP_FAILED);
        relay::shm::store store(static_cast<std::uint8_t*>(base));
        auto shard = store.shard(0);
        {
            relay::shm::shard_guard guard(shard);
            auto const anchor = shard.find_mailbox_locked(relay::shm::blob_kind::update, victim);
            BOOST_REQUIRE(anchor != 0u);
            auto* continuation = shard.chunk(shard.chunk(anchor)->next);
            continuation->seq += 1000;
        }
        ::munmap(base, static_cast<std::size_t>(st.st_size));
        ::close(fd);
    }

    // A worker dies inside the shard; the repair finds the unreadable blob.
    for (int i = 0; i < 10; ++i) {
        auto data = random_bytes(500);
        if (sender.store(other, data))
            kept.insert(data);
    }
    BOOST_TEST(relay.wait_for_log("was killed by signal 9", 5000ms));
    BOOST_TEST(
        relay.wait_for_log("could not prove the repair consistent (1 committed records did not read back)", 5000ms));
    BOOST_TEST(relay.wait_for_log("escalating", 5000ms));
    BOOST_TEST(relay.wait_for_log("store rebuilt and verified after escalation", 5000ms));

    // Serving again; only the damaged blob is gone.
    auto more = random_bytes(500);
    BOOST_TEST(sender.store(other, more));
    kept.insert(more);
    auto remaining = kept;
    for (auto const& e : drain(relay.port(), other, kept.size()))
        if (auto const* u = std::get_if<encrypted_update>(&e.body))
            remaining.erase(u->ciphertext);
    BOOST_TEST(remaining.empty());
    BOOST_TEST(drain(relay.port(), victim, 0).empty());
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_SUITE_END()
