#include "shm/notify_ring.hpp"

#include <cstring>

#include "common/log.hpp"
#include "shm/fault_injection.hpp"

namespace relay::shm {
namespace {

/// Locks a ring; if its last holder died, the ring's indexes are untrustworthy
/// and its contents are best-effort anyway: empty it.
class ring_guard final {
public:
    explicit ring_guard(notify_ring& r) : r_(r)
    {
        if (r_.lock.lock() == lock_outcome::owner_died) {
            r_.head = r_.tail = 0;
            r_.lock.mark_consistent();
            RELAY_LOG_WARN("notification ring reset after its lock holder died");
        }
    }
    ~ring_guard() { r_.lock.unlock(); }
    ring_guard(ring_guard const&) = delete;
    ring_guard& operator=(ring_guard const&) = delete;

private:
    notify_ring& r_;
};

} // namespace

notify_rings::notify_rings(std::uint8_t* base, store_header const& header) noexcept
    : base_(base), rings_offset_(header.rings_offset)
{
}

notify_ring& notify_rings::ring(std::uint32_t slot) const noexcept
{
    return reinterpret_cast<notify_ring*>(base_ + rings_offset_)[slot];
}

bool notify_rings::post(std::uint32_t slot, notify_entry const& entry)
{
    notify_ring& r = ring(slot);
    ring_guard guard(r);
    if (r.tail - r.head >= notify_ring_capacity || r.tail < r.head) {
        r.dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    r.entries[r.tail % notify_ring_capacity] = entry;
    RELAY_KILL_POINT("ring.before_publish");
    ++r.tail;
    return true;
}

std::vector<notify_entry> notify_rings::drain(std::uint32_t slot)
{
    notify_ring& r = ring(slot);
    std::vector<notify_entry> out;
    ring_guard guard(r);
    if (r.tail < r.head || r.tail - r.head > notify_ring_capacity) {
        r.head = r.tail = 0; // torn indexes: start over
        return out;
    }
    out.reserve(r.tail - r.head);
    for (; r.head < r.tail; ++r.head)
        out.push_back(r.entries[r.head % notify_ring_capacity]);
    return out;
}

void notify_rings::reset(std::uint32_t slot)
{
    notify_ring& r = ring(slot);
    ring_guard guard(r);
    r.head = r.tail = 0;
}

void notify_rings::recover_all()
{
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        ring_guard guard(ring(s));
}

void notify_rings::reinit_locks()
{
    for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
        ring(s).lock.init();
        ring(s).head = ring(s).tail = 0;
    }
}

std::uint64_t notify_rings::dropped(std::uint32_t slot) const
{
    return ring(slot).dropped.load(std::memory_order_relaxed);
}

notify_entry notify_rings::make(notify_kind kind, std::string_view routing_id, std::string_view message_id)
{
    notify_entry e{};
    e.kind = static_cast<std::uint8_t>(kind);
    std::memcpy(e.routing_id, routing_id.data(), std::min(routing_id.size(), key_size));
    std::size_t const n = std::min(message_id.size(), max_sender_message_id);
    if (n != 0)
        std::memcpy(e.message_id, message_id.data(), n);
    e.message_id_len = static_cast<std::uint8_t>(n);
    return e;
}

} // namespace relay::shm
