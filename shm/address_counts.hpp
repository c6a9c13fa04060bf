#pragma once
// Connections per source address across the whole relay, for the per-address
// cap (RELAY_MAX_CONNECTIONS_PER_IP): a client gains nothing by landing on
// several workers (D-11). Each worker counts its own connections in its own
// table (one writer, no locks); a check sums every worker's table. Two workers
// admitting the same address at the same instant can overshoot the cap by one
// each, which is the price of taking no lock on every accept.

#include <cstdint>
#include <span>

#include "shm/layout.hpp"

namespace relay::shm {

class address_counts {
public:
    address_counts(std::uint8_t* base, store_header const& header, std::uint32_t own_slot) noexcept;

    /// Keyed hash of the raw address bytes (4 for IPv4, 16 for IPv6); never 0.
    std::uint64_t key_of(std::span<std::uint8_t const> address) const noexcept;

    enum class admission {
        counted,   ///< admitted and counted: call release() when the connection ends
        refused,   ///< the address already has `limit` connections
        uncounted, ///< admitted without counting (limit 0, or this worker's table is full)
    };
    admission try_acquire(std::uint64_t key, std::uint64_t limit);
    void release(std::uint64_t key);
    /// Open connections of `key` in every worker.
    std::uint64_t total(std::uint64_t key) const;

    /// Forgets every connection of a worker slot (its process is gone).
    static void reset_slot(std::uint8_t* base, store_header const& header, std::uint32_t slot) noexcept;

private:
    address_entry* table(std::uint32_t slot) const noexcept;
    std::uint32_t count_in(std::uint32_t slot, std::uint64_t key) const noexcept;

    std::uint8_t* base_;
    store_header const& header_;
    std::uint32_t own_;
    std::uint32_t used_ = 0; ///< entries in use in the own table (only this process writes it)
};

} // namespace relay::shm
