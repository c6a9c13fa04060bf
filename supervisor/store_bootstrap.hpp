#pragma once
// Creating or reopening the store at start-up: the supervisor is the
// only process that creates, formats, verifies or removes it.

#include "common/config.hpp"
#include "shm/segment.hpp"

namespace relay::supervisor {

/// Takes the exclusive lock of the data directory (created if missing) and
/// returns its descriptor, to keep open for the relay's lifetime. Throws
/// shm::open_error if another relay holds it.
int lock_data_dir(config const& cfg);

/// Call after lock_data_dir(). Opens (file backend) or creates (memory backend) the store, re-initialises
/// its locks, rebuilds and verifies every shard with progress logs, and clears
/// presence and worker slots left by a previous run. Throws shm::open_error.
shm::segment bootstrap_store(config const& cfg);

/// Geometry for a new store from the configuration.
shm::geometry geometry_for(config const& cfg);
/// The store file opened for recovery's page-identity scan (O_DIRECT, so the
/// scan leaves no single-page folios in the page cache), or -1 when the
/// backend or the filesystem has none: recovery then reads the mapping.
class identity_scan_file {
public:
    explicit identity_scan_file(config const& cfg);
    ~identity_scan_file();
    identity_scan_file(identity_scan_file const&) = delete;
    identity_scan_file& operator=(identity_scan_file const&) = delete;
    int fd() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

/// Entries of the presence table: it can never be full while the relay
/// admits at most `max_connections` (docs/store.md, "Presence").
std::uint32_t presence_capacity_for(std::uint64_t max_connections);

/// `vauchi-relay --check-store`: maps the file store of `cfg` and verifies every
/// shard under its lock, without rebuilding anything; safe while the relay
/// runs. Prints the outcome; returns an exit code (0 consistent, 3 not).
int check_store(config const& cfg);

/// Marks the store cleanly closed and schedules write-back (at exit).
void close_store(shm::segment& seg, config const& cfg);

} // namespace relay::supervisor
