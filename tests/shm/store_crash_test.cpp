#include "shm/store.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

namespace {

struct acked {
    char recipient;
    relay::random::uuid id;
};

// Child body: store blobs for a handful of recipients and report each one
// through the pipe only after put() returned `stored` (= what a worker acks).
[[noreturn]] void producer(store st, int fd, unsigned seed)
{
    std::mt19937 rng(seed);
    for (;;) {
        char const r = static_cast<char>('a' + rng() % 6);
        auto const data = bytes_of(rng() % 3 ? rng() % 2000 : 70000 + rng() % 70000, static_cast<std::uint8_t>(rng()));
        auto rq = request(key(r), data);
        rq.sender = key('s');
        rq.sender_message_id = "m";
        auto const res = st.put(rq);
        if (res.status == put_status::stored) {
            acked a{r, res.blob_id};
            if (::write(fd, &a, sizeof a) != sizeof a)
                std::_Exit(1);
        }
        if (rng() % 4 == 0)
            st.attach(key(r), rng() % 4);
        if (rng() % 5 == 0) {
            // Exercise the delete path too, on a recipient nobody checks.
            st.put(request(key('y'), bytes_of(rng() % 3000, 1)));
            st.purge(key('y'));
        }
        if (rng() % 4 == 0) {
            // The other kinds share the shards and their locks: device sync
            // under the same key as an update mailbox, and a recovery proof
            // whose put deletes the one it replaces.
            auto const other = bytes_of(200 + rng() % 2000, 3);
            auto rq = request(key(r), other);
            rq.kind = rng() % 2 ? blob_kind::device_sync : blob_kind::recovery_proof;
            rq.replace_existing = rq.kind == blob_kind::recovery_proof;
            st.put(rq);
            if (rng() % 3 == 0)
                st.purge(blob_kind::device_sync, key(r));
        }
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_crash)

BOOST_AUTO_TEST_CASE(processes_storing_concurrently_keep_every_blob_and_all_invariants)
{
    scratch_store s(small_geometry(16u << 20, 4));
    constexpr int children = 4, per_child = 300;
    std::vector<pid_t> pids;
    for (int c = 0; c < children; ++c) {
        pid_t pid = ::fork();
        BOOST_TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            store own(s.seg.base(), static_cast<std::uint32_t>(c)); // writes outside the lock, as a worker does
            for (int i = 0; i < per_child; ++i)
                if (own.put(request(key(static_cast<char>('a' + i % 5)), bytes_of(100 + i, 1))).status !=
                    put_status::stored)
                    std::_Exit(1);
            std::_Exit(0);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    BOOST_TEST(s.st.totals().blobs == std::uint64_t{children * per_child});
    BOOST_TEST(verified(s.st));
}

BOOST_AUTO_TEST_CASE(sigkill_at_random_instants_never_loses_an_acknowledged_blob)
{
    scratch_store s(small_geometry(64u << 20, 4));
    std::mt19937 rng(12345);
    std::map<char, std::set<std::string>> expected;
    constexpr int rounds = 40;
    int repairs_seen = 0;
    for (int round = 0; round < rounds; ++round) {
        int fds[2];
        BOOST_TEST_REQUIRE(::pipe(fds) == 0);
        std::vector<pid_t> pids;
        for (int c = 0; c < 3; ++c) {
            pid_t pid = ::fork();
            BOOST_TEST_REQUIRE(pid >= 0);
            if (pid == 0) {
                ::close(fds[0]);
                // As a worker: copies outside the lock, its reservation in slot c.
                producer(store(s.seg.base(), static_cast<std::uint32_t>(c)), fds[1],
                         static_cast<unsigned>(round * 10 + c));
            }
            pids.push_back(pid);
        }
        ::close(fds[1]);
        std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 20000));
        for (pid_t pid : pids)
            ::kill(pid, SIGKILL);
        for (pid_t pid : pids)
            ::waitpid(pid, nullptr, 0);
        // What the supervisor does for a dead worker: the record it was
        // writing outside the lock is freed (the check below finds any leak).
        for (std::uint32_t c = 0; c < pids.size(); ++c)
            s.st.reset_slot(c);
        acked a{};
        while (::read(fds[0], &a, sizeof a) == sizeof a)
            expected[a.recipient].insert(relay::random::to_string(a.id));
        ::close(fds[0]);

        // Every recipient's shard: attach takes the lock (repairing if a child
        // died holding it) and must list every acknowledged blob.
        for (auto& [r, ids] : expected) {
            auto const att = s.st.attach(key(r), 9);
            std::set<std::string> present;
            for (auto const& ref : att.pending)
                if (auto d = s.st.fetch(ref, key(r)))
                    present.insert(relay::random::to_string(d->blob_id));
            for (auto const& id : ids)
                BOOST_TEST_REQUIRE(present.count(id) == 1u, "acknowledged blob lost in round " << round);
            s.st.detach(key(r), 9);
            // Keep the store from filling up: drop what we verified.
            for (auto const& id : ids) {
                relay::random::uuid u{};
                relay::random::parse_uuid(id, u);
                s.st.remove(key(r), u);
            }
            ids.clear();
        }
        BOOST_TEST_REQUIRE(verified(s.st), "round " << round);
        repairs_seen = static_cast<int>(s.st.totals().repairs);
    }
    BOOST_TEST_MESSAGE("shard repairs after kills: " << repairs_seen);
}

BOOST_AUTO_TEST_SUITE_END()
