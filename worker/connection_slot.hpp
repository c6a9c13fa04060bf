#pragma once
// One admitted TCP connection on the main port, counted in this worker's slot
// for the relay-wide RELAY_MAX_CONNECTIONS (D-11) from accept until the socket
// is gone. A dead worker's count is reset by the supervisor.

#include "worker/services.hpp"

namespace relay::worker {

class connection_slot final {
public:
    explicit connection_slot(worker_services& s) : s_(&s)
    {
        s_->slot_state().connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection_slot()
    {
        if (s_ != nullptr)
            s_->slot_state().connections.fetch_sub(1, std::memory_order_relaxed);
    }
    connection_slot(connection_slot&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    connection_slot(connection_slot const&) = delete;
    connection_slot& operator=(connection_slot const&) = delete;
    connection_slot& operator=(connection_slot&&) = delete;

private:
    worker_services* s_;
};

} // namespace relay::worker
