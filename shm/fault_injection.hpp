#pragma once
// Named kill points for crash-safety tests (docs/architecture.md#design-2-8). Compiled in only with
// -Dfault_injection=true; in other builds the macro expands to nothing, so the
// hot paths pay nothing.
//
// VAUCHI_KILL_POINT=NAME:N[,NAME:N...] makes a process SIGKILL itself the N-th
// time it reaches the point NAME. With VAUCHI_KILL_POINT_TOKEN=PATH each point
// fires once for the whole relay: the process that reaches it first claims
// PATH.NAME (O_EXCL) before dying, and respawned workers find it taken.
// VAUCHI_KILL_POINT_SIGNAL=STOP stops the process at the point instead of
// killing it (liveness tests: a stopped process keeps its locks).

namespace relay::shm {
/// Arms kill points in this process. Only workers and the cleanup process call
/// it: the supervisor's own store recovery must run to the end.
void enable_kill_points();
} // namespace relay::shm

#include <cstdint>

#if defined(VAUCHI_FAULT_INJECTION)
namespace relay::shm {
void kill_point(char const* name);
/// A table's capacity as tests shrink it: the environment variable `name`
/// (e.g. VAUCHI_TEST_RING_CAPACITY) if set and smaller, else `normal`.
std::uint32_t test_capacity(char const* name, std::uint32_t normal);
} // namespace relay::shm
#define RELAY_KILL_POINT(name) ::relay::shm::kill_point(name)
#else
#define RELAY_KILL_POINT(name) static_cast<void>(0)
namespace relay::shm {
constexpr std::uint32_t test_capacity(char const*, std::uint32_t normal) { return normal; }
} // namespace relay::shm
#endif
