#pragma once
// The cleanup process (docs/architecture.md#design-1): wakes every RELAY_CLEANUP_INTERVAL to delete
// expired blobs, and every 10 minutes to free idle rate-limit buckets. Holds
// no socket; SIGTERM ends it between sweeps.

#include <cstdint>

#include "common/config.hpp"

namespace relay::supervisor {

/// Runs until SIGTERM/SIGINT (which the caller has blocked); returns an exit code.
int run_cleanup(config const& cfg, std::uint8_t* store_base);

} // namespace relay::supervisor
