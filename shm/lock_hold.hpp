#pragma once
// How long this process holds shard locks, for bench/lock_hold.cpp: when a
// histogram is set, every shard_guard adds the time from acquiring to
// releasing its lock. Off (one relaxed load per guard) unless a benchmark
// turns it on; nested guards are not measured correctly (none in a put).

#include <cstdint>

namespace relay::shm {

struct lock_hold_histogram {
    static constexpr int bucket_count = 40;
    std::uint64_t buckets[bucket_count] = {}; ///< bucket b: holds of [2^b, 2^(b+1)) ns
    std::uint64_t holds = 0;
    std::uint64_t total_ns = 0;
    std::uint64_t max_ns = 0;

    void add(std::uint64_t ns) noexcept
    {
        int b = 0;
        while (b + 1 < bucket_count && (ns >> (b + 1)) != 0)
            ++b;
        buckets[b] += 1;
        holds += 1;
        total_ns += ns;
        max_ns = ns > max_ns ? ns : max_ns;
    }
    /// The upper bound of the bucket holding the q-quantile (0 < q <= 1).
    std::uint64_t quantile_ns(double q) const noexcept
    {
        std::uint64_t seen = 0;
        for (int b = 0; b < bucket_count; ++b) {
            seen += buckets[b];
            if (holds > 0 && static_cast<double>(seen) >= q * static_cast<double>(holds))
                return std::uint64_t{2} << b;
        }
        return max_ns;
    }
};

/// Starts (a histogram) or stops (nullptr) measuring this process's holds.
void record_lock_holds(lock_hold_histogram* into) noexcept;

} // namespace relay::shm
