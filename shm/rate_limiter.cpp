#include "shm/rate_limiter.hpp"

#include <algorithm>
#include <cstring>

#include "common/log.hpp"
#include "shm/shard.hpp"

namespace relay::shm {
namespace {

constexpr std::uint64_t token_unit = 256;

/// CLOCK_MONOTONIC milliseconds as bucket stamps: 1/64 s, modulo 2^32.
constexpr std::uint32_t ticks_of(std::uint64_t ms) { return static_cast<std::uint32_t>(ms * 64 / 1000); }

/// Ticks from `then` to `now`. Stamps wrap after 2.1 years; a bucket is
/// swept long before it idles that long.
constexpr std::uint32_t ticks_between(std::uint32_t then, std::uint32_t now) { return now - then; }

/// Holds a group's lock; if its holder died inside, every bucket of the group
/// restarts full (which update was torn cannot be known).
class group_guard final {
public:
    explicit group_guard(rate_group& g) : g_(g)
    {
        if (g_.lock.lock() == lock_outcome::owner_died) {
            std::memset(static_cast<void*>(g_.buckets), 0, sizeof g_.buckets);
            g_.lock.mark_consistent();
            RELAY_LOG_WARN("rate limiter: a process died holding a bucket group's lock; its %u buckets restart full",
                           rate_group_buckets);
        }
    }
    ~group_guard() { g_.lock.unlock(); }
    group_guard(group_guard const&) = delete;
    group_guard& operator=(group_guard const&) = delete;

private:
    rate_group& g_;
};

} // namespace

rate_limiter::rate_limiter(std::uint8_t* base, store_header const& header) noexcept
    : groups_(reinterpret_cast<rate_group*>(base + header.rate_offset)),
      group_count_(std::max<std::uint32_t>(1, header.rate_table_entries / rate_entries_per_group)),
      seed_(header.hash_seed)
{
}

rate_group& rate_limiter::group_of(std::uint64_t key) const noexcept
{
    // The high bits pick the group: the low ones are the same within it.
    return groups_[(key >> 32) % group_count_];
}

bool rate_limiter::try_take(std::uint32_t family, std::string_view routing_id, std::uint64_t per_minute,
                            std::uint64_t now_ms)
{
    if (per_minute == 0)
        return false; // docs/protocol.md#s10-2: a limit of 0 blocks every message
    per_minute = std::min(per_minute, max_per_minute);
    auto const capacity = static_cast<std::uint32_t>(per_minute * token_unit);
    std::uint32_t const now = ticks_of(now_ms);
    std::uint64_t key = key_hash(seed_ ^ (std::uint64_t{family} * 0x9e3779b97f4a7c15ull), routing_id);
    key = key == 0 ? 1 : key;

    rate_group& g = group_of(key);
    group_guard guard(g);
    rate_bucket* bucket = nullptr;
    for (rate_bucket& b : g.buckets)
        if (b.key == key)
            bucket = &b;
    if (bucket == nullptr) {
        // A free bucket, or else the one idle longest: an evicted bucket only
        // restarts full, which the table's size (8 per connection) makes rare.
        bucket = &g.buckets[0];
        for (rate_bucket& b : g.buckets) {
            if (b.key == 0) {
                bucket = &b;
                break;
            }
            if (ticks_between(b.stamp, now) > ticks_between(bucket->stamp, now))
                bucket = &b;
        }
        *bucket = {key, capacity, now};
    }
    // Refill: per_minute tokens per 60 s = per_minute*256 units per 3840 ticks.
    std::uint64_t const elapsed = ticks_between(bucket->stamp, now);
    std::uint64_t const added = elapsed * per_minute * token_unit / 3840;
    if (added > 0) // keep the stamp until a unit accrued, so slow refills still add up
        bucket->stamp = now;
    std::uint64_t const tokens = std::min<std::uint64_t>(capacity, bucket->tokens + added);
    if (tokens < token_unit) {
        bucket->tokens = static_cast<std::uint32_t>(tokens);
        return false;
    }
    bucket->tokens = static_cast<std::uint32_t>(tokens - token_unit);
    return true;
}

std::uint64_t rate_limiter::sweep_idle(std::uint64_t now_ms, std::uint64_t idle_ms)
{
    std::uint32_t const now = ticks_of(now_ms);
    std::uint64_t const idle_ticks = idle_ms * 64 / 1000;
    std::uint64_t freed = 0;
    for (std::uint32_t i = 0; i < group_count_; ++i) {
        group_guard guard(groups_[i]);
        for (rate_bucket& b : groups_[i].buckets) {
            if (b.key != 0 && ticks_between(b.stamp, now) > idle_ticks) {
                b = {};
                ++freed;
            }
        }
    }
    return freed;
}

void rate_limiter::reset()
{
    for (std::uint32_t i = 0; i < group_count_; ++i) {
        std::memset(static_cast<void*>(groups_[i].buckets), 0, sizeof groups_[i].buckets);
        groups_[i].lock.init();
    }
}

} // namespace relay::shm
