#pragma once
// The Prometheus text exposition of the whole relay (docs/protocol.md#s11-3): every
// worker keeps its own counters in its store slot, any worker renders the sum.
// Pure: reads the store, no sockets, so it is unit-tested directly.

#include <string>

#include "shm/store.hpp"

namespace relay::worker {

/// Metric families of §11.3 (names and types kept for dashboards, all of them
/// actually updated) followed by per-worker and store gauges for operators.
std::string render_metrics(shm::store& st);

} // namespace relay::worker
