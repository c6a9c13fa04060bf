#pragma once
// One SO_REUSEPORT listening socket per worker slot, opened by the supervisor
// before forking and kept by it (docs/architecture.md#design-1): while a slot's worker is being
// respawned, the kernel keeps queueing that slot's connections instead of
// resetting them.

#include <cstdint>
#include <vector>

#include "common/config.hpp"

namespace relay::supervisor {

/// Opens `count` sockets bound to `address`. With port 0 the first socket picks
/// a free port and the others join it. Throws std::runtime_error with advice.
std::vector<int> open_listen_sockets(listen_address const& address, unsigned count);
/// The one metrics socket every worker accepts on (docs/protocol.md#s11-2).
int open_metrics_socket(listen_address const& address);
/// The port the sockets are bound to.
std::uint16_t bound_port(int fd);

} // namespace relay::supervisor
