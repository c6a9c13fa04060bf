#include "supervisor/cleanup_process.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/rate_limiter.hpp"
#include "shm/sweep.hpp"

namespace relay::supervisor {
namespace {

/// PROTOCOL §10.2: buckets idle for 30 minutes are discarded every 10 minutes.
constexpr std::uint64_t bucket_sweep_every_s = 600;
constexpr std::uint64_t bucket_idle_ms = 30 * 60 * 1000;

std::uint64_t now_unix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

} // namespace

int run_cleanup(config const& cfg, std::uint8_t* store_base)
{
    shm::store st(store_base);
    shm::rate_limiter limiter(store_base, st.header());
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);

    // §8.4: the first pass runs one interval after start.
    std::uint64_t next_sweep = now_unix() + cfg.cleanup_interval_secs;
    std::uint64_t next_buckets = now_unix() + bucket_sweep_every_s;
    RELAY_LOG_INFO("cleanup every %llu s, blob TTL %llu s", static_cast<unsigned long long>(cfg.cleanup_interval_secs),
                   static_cast<unsigned long long>(cfg.blob_ttl_secs));
    for (;;) {
        std::uint64_t const now = now_unix();
        std::uint64_t const due = std::min(next_sweep, next_buckets);
        if (now < due) {
            timespec wait{static_cast<time_t>(due - now), 0};
            if (sigtimedwait(&stop, nullptr, &wait) > 0)
                return exit_code::ok;
            continue;
        }
        if (now >= next_sweep) {
            auto const started = std::chrono::steady_clock::now();
            auto const stats = shm::sweep_expired(st, now, cfg.blob_ttl_secs);
            auto const kind_count = [&stats](shm::blob_kind k) {
                return static_cast<unsigned long long>(stats.expired_by_kind[static_cast<std::size_t>(k)]);
            };
            st.header().blobs_expired_total.fetch_add(kind_count(shm::blob_kind::update), std::memory_order_relaxed);
            st.header().last_sweep_unix.store(now, std::memory_order_relaxed);
            auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
            if (stats.expired > 0)
                RELAY_LOG_INFO("expired %llu blobs, %llu device-sync messages, %llu recovery proofs in %u shards (%lld ms)",
                               kind_count(shm::blob_kind::update), kind_count(shm::blob_kind::device_sync),
                               kind_count(shm::blob_kind::recovery_proof), stats.shards,
                               static_cast<long long>(ms.count()));
            next_sweep = now + cfg.cleanup_interval_secs;
        }
        if (now >= next_buckets) {
            limiter.sweep_idle(now * 1000, bucket_idle_ms);
            next_buckets = now + bucket_sweep_every_s;
        }
    }
}

} // namespace relay::supervisor
