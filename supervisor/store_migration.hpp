#pragma once
// Carrying the records of a layout-2 store (every release before Store v2)
// into a new layout-3 store at start (docs/store.md, "Upgrades from layout 2").

#include <string>

#include "shm/segment.hpp"

namespace relay::supervisor {

/// Migrates the layout-2 store at `path`: its records are read with the
/// layout-2 rules and put, with their ids, times, senders and flags, into a
/// new store of geometry `g` built beside it; that one is verified, synced
/// and renamed over `path`, and the old file stays as `path.layout2`.
/// Progress is logged. Throws shm::open_error (the old store untouched) if
/// the records do not fit or the old file cannot be read.
void migrate_layout2_store(std::string const& path, shm::geometry const& g, shm::backing policy);

} // namespace relay::supervisor
