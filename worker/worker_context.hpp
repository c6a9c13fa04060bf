#pragma once
// What a worker process is handed by the supervisor at fork time.

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "shm/store.hpp"
#include "noise/types.hpp"

namespace relay::worker {

struct worker_context {
    config const* cfg = nullptr;
    std::uint8_t* store_base = nullptr; ///< the mapped store, inherited across fork
    std::uint32_t slot = 0;             ///< this worker's slot number
    int listen_fd = -1;                 ///< this slot's SO_REUSEPORT socket (owned by the supervisor)
    int metrics_fd = -1;                ///< the metrics socket, shared by every worker (-1: none)
    std::string noise_public_key_b64;   ///< served at /pubkey (docs/protocol.md#s9-4)
    noise::key_pair noise_keys{};       ///< the relay's static Noise key (§9.3)
    std::vector<int> event_fds;         ///< one eventfd per slot, for cross-worker notifications
    std::uint64_t relay_start_unix = 0; ///< when the supervisor started (health uptime)
};

/// Runs the worker until drained or killed; returns an exit code (common/exit_codes.hpp).
int run_worker(worker_context const& ctx);

} // namespace relay::worker
