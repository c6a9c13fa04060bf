#include "supervisor/cleanup_process.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "common/exit_codes.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "shm/compaction.hpp"
#include "shm/rate_limiter.hpp"
#include "shm/record_flush.hpp"
#include "shm/sweep.hpp"

namespace relay::supervisor {
namespace {

/// docs/protocol.md#s10-2: buckets idle for 30 minutes are discarded every 10 minutes.
constexpr std::uint64_t bucket_sweep_every_s = 600;
constexpr std::uint64_t bucket_idle_ms = 30 * 60 * 1000;

/// The background flush (docs/store.md, "Durability to disk"): every
/// RELAY_SYNC_INTERVAL_MS the records written since go to disk
/// (shm/record_flush.hpp), so that a power cut loses at most about that
/// window of acknowledged records.
class store_flusher {
public:
    store_flusher(config const& cfg, std::uint8_t* store_base)
        : interval_(std::chrono::milliseconds(cfg.sync_interval_ms)),
          base_(cfg.backend == storage_backend::file ? store_base : nullptr)
    {
        next_ = std::chrono::steady_clock::now() + interval_;
    }
    store_flusher(store_flusher const&) = delete;
    store_flusher& operator=(store_flusher const&) = delete;

    /// Milliseconds until the next flush is due (a day when there is none).
    std::int64_t due_in_ms() const
    {
        if (base_ == nullptr)
            return 86400000;
        return std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(next_ - std::chrono::steady_clock::now()).count());
    }
    void run_if_due()
    {
        if (base_ == nullptr || due_in_ms() > 0)
            return;
        flush_now();
    }
    /// Flushes now (compaction needs its moves on disk before it frees the
    /// old copies); a flush counts as the periodic one too.
    void flush_now()
    {
        if (base_ == nullptr)
            return;
        if (int const error = shm::flush_records(base_); error != 0) {
            if (!failing_)
                RELAY_LOG_ERROR("background flush of the store failed (%s): acknowledged records may not survive "
                                "a power cut until it succeeds; check the disk holding RELAY_DATA_DIR",
                                std::strerror(error));
            failing_ = true;
        } else {
            failing_ = false;
        }
        next_ = std::chrono::steady_clock::now() + interval_;
    }

private:
    std::chrono::milliseconds interval_;
    std::uint8_t* base_; ///< nullptr: nothing to flush (memory backend)
    std::chrono::steady_clock::time_point next_;
    bool failing_ = false;
};

/// Compaction (docs/store.md, "Compaction"): checked every second, it runs
/// when the pool is short of pages and a size class holds clearly more pages
/// than its records need.
class store_compactor {
public:
    store_compactor(shm::store& st, store_flusher& flusher) : st_(st), flusher_(flusher) {}

    std::int64_t due_in_ms() const
    {
        return std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(next_ - std::chrono::steady_clock::now()).count());
    }
    void run_if_due()
    {
        if (due_in_ms() > 0)
            return;
        next_ = std::chrono::steady_clock::now() + every_;
        if (!shm::compaction_wanted(st_))
            return;
        auto const started = std::chrono::steady_clock::now();
        auto const round = shm::compact_store(st_, [this] { flusher_.flush_now(); });
        if (round.moved == 0)
            return;
        auto const ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        RELAY_LOG_INFO("compaction moved %llu records off sparse pages in %u batches (%lld ms): free pages %u -> %u",
                       static_cast<unsigned long long>(round.moved), round.batches, static_cast<long long>(ms.count()),
                       round.free_pages_before, round.free_pages_after);
    }

private:
    static constexpr std::chrono::milliseconds every_{1000};
    shm::store& st_;
    store_flusher& flusher_;
    std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now() + every_;
};

} // namespace

int run_cleanup(config const& cfg, std::uint8_t* store_base)
{
    shm::store st(store_base);
    shm::rate_limiter limiter(store_base, st.header());
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);

    // §8.4: the first pass runs one interval after start. The schedule is
    // CLOCK_MONOTONIC: a step of the wall clock neither stops nor hurries it.
    std::uint64_t next_sweep_ms = clock::monotonic_ms() + cfg.cleanup_interval_secs * 1000;
    std::uint64_t next_buckets_ms = clock::monotonic_ms() + bucket_sweep_every_s * 1000;
    RELAY_LOG_INFO("cleanup every %llu s, blob TTL %llu s", static_cast<unsigned long long>(cfg.cleanup_interval_secs),
                   static_cast<unsigned long long>(cfg.blob_ttl_secs));
    store_flusher flusher(cfg, store_base);
    store_compactor compactor(st, flusher);
    for (;;) {
        flusher.run_if_due();
        compactor.run_if_due();
        std::uint64_t const now_ms = clock::monotonic_ms();
        std::uint64_t const due_ms = std::min(next_sweep_ms, next_buckets_ms);
        if (now_ms < due_ms) {
            std::int64_t const wait_ms =
                std::min({static_cast<std::int64_t>(due_ms - now_ms), flusher.due_in_ms(), compactor.due_in_ms()});
            timespec wait{static_cast<time_t>(wait_ms / 1000), static_cast<long>(wait_ms % 1000) * 1000000};
            if (sigtimedwait(&stop, nullptr, &wait) > 0)
                return exit_code::ok;
            continue;
        }
        if (now_ms >= next_sweep_ms) {
            auto const started = std::chrono::steady_clock::now();
            std::uint64_t const now = clock::relay_unix(); // blob ages: the relay's calendar
            auto const stats = shm::sweep_expired(st, now, cfg.blob_ttl_secs);
            auto const kind_count = [&stats](shm::blob_kind k) {
                return static_cast<unsigned long long>(stats.expired_by_kind[static_cast<std::size_t>(k)]);
            };
            st.header().blobs_expired_total.fetch_add(kind_count(shm::blob_kind::update), std::memory_order_relaxed);
            st.header().last_sweep_unix.store(now, std::memory_order_relaxed);
            auto const ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
            if (stats.expired > 0)
                RELAY_LOG_INFO(
                    "expired %llu blobs, %llu device-sync messages, %llu recovery proofs in %u shards (%lld ms)",
                    kind_count(shm::blob_kind::update), kind_count(shm::blob_kind::device_sync),
                    kind_count(shm::blob_kind::recovery_proof), stats.shards, static_cast<long long>(ms.count()));
            next_sweep_ms = now_ms + cfg.cleanup_interval_secs * 1000;
        }
        if (now_ms >= next_buckets_ms) {
            limiter.sweep_idle(now_ms, bucket_idle_ms);
            next_buckets_ms = now_ms + bucket_sweep_every_s * 1000;
        }
    }
}

} // namespace relay::supervisor
