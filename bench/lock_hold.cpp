// Shard lock hold time per store, by blob size (bench/README.md, "Store v2").
//
// Store v2 writes a record's bytes outside the shard lock: the lock is held
// to reserve chunks and again to commit, so the hold time of a put should
// not grow with the blob. This measures it on a store in POSIX shared memory
// with the put path the workers use (a writer slot), one put at a time, and
// prints the distribution of hold times per put (both holds added) and of
// the whole put, per size.
//
//   build-release/bench/lock_hold [--puts N]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "shm/lock_hold.hpp"
#include "shm/segment.hpp"
#include "shm/store.hpp"

using namespace relay::shm;

namespace {

std::string recipient_for(unsigned i)
{
    char buf[65];
    std::snprintf(buf, sizeof buf, "%064x", i * 2654435761u);
    return buf;
}

} // namespace

int main(int argc, char** argv)
{
    unsigned puts = 2000;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--puts") == 0)
            puts = static_cast<unsigned>(std::atoi(argv[i + 1]));
    geometry g;
    g.shard_count = 32;
    g.arena_bytes = 256u << 20;
    g.rate_table_entries = 4096;
    g.presence_capacity = 64;
    std::string const name = "/vauchi-relay-lock-hold-" + std::to_string(::getpid());
    segment seg = segment::create_memory(name, g);
    store st(seg.base(), 0); // the workers' put: bytes written between the two lock holds
    st.reinit_locks();

    std::printf("| blob | puts | lock holds per put | held per put p50 | p99 | max | whole put p50 |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (std::size_t size : {std::size_t{256}, std::size_t{4096}, std::size_t{65536}, std::size_t{1} << 20}) {
        std::vector<std::uint8_t> data(size, 0x5a);
        lock_hold_histogram per_put_held, whole_put;
        std::uint64_t holds = 0;
        for (unsigned i = 0; i < puts; ++i) {
            std::string const who = recipient_for(i);
            put_request rq;
            rq.recipient = who;
            rq.data = data;
            rq.now = 1000;
            lock_hold_histogram one;
            record_lock_holds(&one);
            auto const started = std::chrono::steady_clock::now();
            put_result const r = st.put(rq);
            auto const took = std::chrono::steady_clock::now() - started;
            record_lock_holds(nullptr);
            if (r.status != put_status::stored) {
                std::fprintf(stderr, "lock_hold: a put of %zu bytes was refused\n", size);
                return 1;
            }
            per_put_held.add(one.total_ns);
            whole_put.add(
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
            holds += one.holds;
            st.remove(who, r.blob_id);
        }
        std::printf("| %zu B | %u | %.1f | < %llu ns | < %llu ns | %llu ns | < %llu ns |\n", size, puts,
                    double(holds) / puts, static_cast<unsigned long long>(per_put_held.quantile_ns(0.5)),
                    static_cast<unsigned long long>(per_put_held.quantile_ns(0.99)),
                    static_cast<unsigned long long>(per_put_held.max_ns),
                    static_cast<unsigned long long>(whole_put.quantile_ns(0.5)));
    }
    segment::remove_memory(name);
    return 0;
}
