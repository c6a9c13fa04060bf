#pragma once
// One admitted TCP connection on the main port, counted in this worker's slot
// for the relay-wide RELAY_MAX_CONNECTIONS and in the per-address table for
// RELAY_MAX_CONNECTIONS_PER_IP (D-11) from accept until the socket is gone. A
// dead worker's counts are reset by the supervisor.

#include "worker/services.hpp"

namespace relay::worker {

class connection_slot final {
public:
    /// `address_key`: the source address's key if it was counted in the
    /// per-address table (released with the slot), 0 if not.
    explicit connection_slot(worker_services& s, std::uint64_t address_key = 0) : s_(&s), address_key_(address_key)
    {
        s_->slot_state().connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection_slot()
    {
        if (s_ == nullptr)
            return;
        s_->slot_state().connections.fetch_sub(1, std::memory_order_relaxed);
        if (address_key_ != 0)
            s_->addresses().release(address_key_);
    }
    /// The client's address was counted in the per-address table once it was
    /// known (after a PROXY header or X-Forwarded-For): released with the slot.
    void count_address(std::uint64_t address_key) noexcept { address_key_ = address_key; }
    connection_slot(connection_slot&& o) noexcept : s_(o.s_), address_key_(o.address_key_) { o.s_ = nullptr; }
    connection_slot(connection_slot const&) = delete;
    connection_slot& operator=(connection_slot const&) = delete;
    connection_slot& operator=(connection_slot&&) = delete;

private:
    worker_services* s_;
    std::uint64_t address_key_;
};

} // namespace relay::worker
