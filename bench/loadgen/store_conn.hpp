#pragma once
// A sender connection that pipelines EncryptedUpdates: at most `window`
// unacknowledged at a time, acks matched in order (the relay answers each
// connection's messages in order). Used by the store scenario, the setup of
// the deliver scenario and the store-overhead scenario.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/runner.hpp"

namespace bench::loadgen {

/// Ciphertext sizes handed out one per update across connections (overhead).
struct size_plan {
    std::vector<std::size_t> sizes;
    std::atomic<std::size_t> next{0};
};

/// Counts the connections of a group as they open and as they end.
struct conn_group {
    std::atomic<unsigned> ready{0};
    std::atomic<unsigned> failed{0};
    std::atomic<unsigned> finished{0};
};

struct store_job {
    std::uint32_t index = 0; ///< connection number: its client id and message ids
    std::size_t size = 256;  ///< ciphertext bytes (unless `plan`)
    unsigned window = 1;
    std::vector<std::string> recipients; ///< cycled through, one per update
    std::uint64_t budget = 0;            ///< updates to send; 0 = until the drain phase
    std::shared_ptr<size_plan> plan;     ///< mixed sizes; the connection stops when it is used up
};

/// Runs one sender connection on thread `t` until its budget, its plan or the
/// load phases are over, then closes it; `group` sees it open and end.
net::awaitable<void> store_connection(runner& r, unsigned t, store_job job, std::shared_ptr<conn_group> group);

/// Recipient ids of store connection `index`: never online, so nothing is pushed.
std::vector<std::string> offline_recipients(runner const& r, std::uint32_t index, unsigned count);

} // namespace bench::loadgen
