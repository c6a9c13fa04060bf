#pragma once
// The relay's three clocks (docs/architecture.md#clocks). NTP steps the wall
// clock; nothing the relay schedules or measures may follow such a step.
//
// - monotonic_ms(): CLOCK_MONOTONIC, the same in every process of the host.
//   Every interval, deadline, refill, heartbeat and sweep schedule.
// - wall_unix(): the real wall clock, only where the protocol compares times
//   with a client's (timestamps in envelopes, the signed-handshake window).
// - relay_unix(): the relay's calendar, the wall time when the supervisor
//   started plus monotonic time since. Blob ages and expiry use it, so a step
//   while the relay runs changes no blob's age; it takes effect at the next
//   start, when the calendar is anchored again.

#include <cstdint>

namespace relay::clock {

std::uint64_t monotonic_ms();
std::uint64_t wall_unix();
std::uint64_t relay_unix();

/// Anchors relay_unix() to the wall clock now. The supervisor calls it once at
/// start, before it forks, so every process shares one calendar. Without it,
/// the first call of relay_unix() anchors (tests, tools).
void anchor_relay_time();

} // namespace relay::clock
