#include "shm/rate_limiter.hpp"

#include <algorithm>

#include "shm/shard.hpp"

namespace relay::shm {
namespace {

// state word: tokens in 1/256 units in the high 28 bits, time in 1/64 s since
// the store's epoch in the low 36 bits (2^36 / 64 s ≈ 34 years).
constexpr unsigned time_bits = 36;
constexpr std::uint64_t time_mask = (std::uint64_t{1} << time_bits) - 1;
constexpr std::uint64_t token_unit = 256;
constexpr std::uint32_t probe_window = 16;

constexpr std::uint64_t pack(std::uint64_t tokens, std::uint64_t ticks)
{
    return tokens << time_bits | (ticks & time_mask);
}
constexpr std::uint64_t tokens_of(std::uint64_t state) { return state >> time_bits; }
constexpr std::uint64_t ticks_of(std::uint64_t state) { return state & time_mask; }

} // namespace

rate_limiter::rate_limiter(std::uint8_t* base, store_header const& header) noexcept
    : table_(reinterpret_cast<rate_entry*>(base + header.rate_offset)), mask_(header.rate_table_entries - 1),
      seed_(header.hash_seed), epoch_ms_(header.epoch_unix * 1000)
{
}

bool rate_limiter::try_take(std::uint32_t family, std::string_view routing_id, std::uint64_t per_minute,
                            std::uint64_t now_ms)
{
    if (per_minute == 0)
        return false; // PROTOCOL §10.2: a limit of 0 blocks every message
    per_minute = std::min(per_minute, max_per_minute);
    std::uint64_t const capacity = per_minute * token_unit;
    std::uint64_t const now_ticks = now_ms > epoch_ms_ ? (now_ms - epoch_ms_) * 64 / 1000 : 0;
    std::uint64_t key = key_hash(seed_ ^ (std::uint64_t{family} * 0x9e3779b97f4a7c15ull), routing_id);
    key = key == 0 ? 1 : key;

    std::uint32_t const home = static_cast<std::uint32_t>(key) & mask_;
    rate_entry* entry = nullptr;
    for (std::uint32_t i = 0; i < probe_window && entry == nullptr; ++i) {
        rate_entry& e = table_[(home + i) & mask_];
        if (e.key.load(std::memory_order_acquire) == key)
            entry = &e;
    }
    if (entry == nullptr) {
        // Claim an empty entry, or take over the stalest one of the window: an
        // evicted bucket only restarts full, which the table size makes rare.
        rate_entry* stalest = &table_[home];
        for (std::uint32_t i = 0; i < probe_window && entry == nullptr; ++i) {
            rate_entry& e = table_[(home + i) & mask_];
            std::uint64_t expected = 0;
            if (e.key.load(std::memory_order_relaxed) == 0 &&
                e.key.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) {
                e.state.store(pack(capacity, now_ticks), std::memory_order_release);
                entry = &e;
            } else if (ticks_of(e.state.load(std::memory_order_relaxed)) <
                       ticks_of(stalest->state.load(std::memory_order_relaxed))) {
                stalest = &e;
            }
        }
        if (entry == nullptr) {
            stalest->key.store(key, std::memory_order_release);
            stalest->state.store(pack(capacity, now_ticks), std::memory_order_release);
            entry = stalest;
        }
    }

    std::uint64_t state = entry->state.load(std::memory_order_acquire);
    for (;;) {
        std::uint64_t const then = ticks_of(state);
        std::uint64_t const elapsed = now_ticks > then ? now_ticks - then : 0;
        // Refill: per_minute tokens per 60 s = per_minute*256 units per 3840 ticks.
        std::uint64_t const added = elapsed * per_minute * token_unit / 3840;
        std::uint64_t tokens = std::min(capacity, tokens_of(state) + added);
        // Keep the old stamp while less than one unit accrued, so that frequent
        // callers at low rates still see the bucket refill.
        std::uint64_t const stamp = added > 0 ? std::max(now_ticks, then) : then;
        if (tokens < token_unit) {
            return false;
        }
        tokens -= token_unit;
        if (entry->state.compare_exchange_weak(state, pack(tokens, stamp), std::memory_order_acq_rel))
            return true;
    }
}

std::uint64_t rate_limiter::sweep_idle(std::uint64_t now_ms, std::uint64_t idle_ms)
{
    std::uint64_t const now_ticks = now_ms > epoch_ms_ ? (now_ms - epoch_ms_) * 64 / 1000 : 0;
    std::uint64_t const idle_ticks = idle_ms * 64 / 1000;
    std::uint64_t freed = 0;
    for (std::uint64_t i = 0; i <= mask_; ++i) {
        rate_entry& e = table_[i];
        std::uint64_t key = e.key.load(std::memory_order_acquire);
        if (key == 0)
            continue;
        if (ticks_of(e.state.load(std::memory_order_acquire)) + idle_ticks < now_ticks &&
            e.key.compare_exchange_strong(key, 0, std::memory_order_acq_rel))
            ++freed;
    }
    return freed;
}

} // namespace relay::shm
