#pragma once
// `vauchi-relay --export FILE` and `--import FILE` (docs/store.md, "Upgrades
// from layout 2"): every record of a store, with its metadata, to and from
// the versioned, checksummed file of shm/record_file.hpp. For backups, for
// moving a store to a smaller capacity, and for upgrades.

#include <string>

#include "common/config.hpp"

namespace relay::supervisor {

/// Writes every record of the store in cfg.data_dir to `file` (which must
/// not exist). A store no relay runs on is read from a private copy-on-write
/// mapping recovered as at start, so the file is never written; a running
/// relay's store is read as one consistent snapshot under all its shard
/// locks; a layout-2 store with the layout-2 rules. Returns an exit code.
int export_store(config const& cfg, std::string const& file);

/// Loads an export into a new store in cfg.data_dir (refused if a store is
/// there, or a relay runs on it), with cfg's capacity. Returns an exit code.
int import_store(config const& cfg, std::string const& file);

} // namespace relay::supervisor
