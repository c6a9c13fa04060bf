#include "common/clock.hpp"

#include <time.h>

namespace relay::clock {
namespace {

std::uint64_t read_ms(clockid_t id)
{
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

struct anchor {
    std::uint64_t wall_ms = 0;
    std::uint64_t monotonic_ms = 0;
};
anchor relay_anchor; // inherited by every forked child

} // namespace

std::uint64_t monotonic_ms() { return read_ms(CLOCK_MONOTONIC); }

std::uint64_t wall_unix() { return read_ms(CLOCK_REALTIME) / 1000; }

void anchor_relay_time() { relay_anchor = {read_ms(CLOCK_REALTIME), read_ms(CLOCK_MONOTONIC)}; }

std::uint64_t relay_unix()
{
    if (relay_anchor.wall_ms == 0)
        anchor_relay_time();
    return (relay_anchor.wall_ms + (monotonic_ms() - relay_anchor.monotonic_ms)) / 1000;
}

} // namespace relay::clock
