#include "shm/notify_ring.hpp"

#include <cstring>

#include "common/log.hpp"
#include "shm/fault_injection.hpp"

namespace relay::shm {
namespace {

/// Empties a ring whose entries are lost, and says so to its consumer through
/// `dropped`: it then catches up every connection from the store.
void wipe(notify_ring& r)
{
    r.head = r.tail = 0;
    r.dropped.fetch_add(1, std::memory_order_relaxed);
}

/// Locks a ring; if its last holder died, the ring's indexes are untrustworthy:
/// empty it, which its consumer notices (notify_rings::drained::lost).
class ring_guard final {
public:
    explicit ring_guard(notify_ring& r) : r_(r)
    {
        if (r_.lock.lock() == lock_outcome::owner_died) {
            wipe(r_);
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
    // Tests of the push fallback shrink the ring to make it overflow.
    static std::uint32_t const capacity = test_capacity("VAUCHI_TEST_RING_CAPACITY", notify_ring_capacity);
    notify_ring& r = ring(slot);
    ring_guard guard(r);
    if (r.tail - r.head >= capacity || r.tail < r.head) {
        r.dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    r.entries[r.tail % notify_ring_capacity] = entry;
    RELAY_KILL_POINT("ring.before_publish");
    ++r.tail;
    return true;
}

notify_rings::drained notify_rings::drain(std::uint32_t slot)
{
    notify_ring& r = ring(slot);
    drained out;
    ring_guard guard(r);
    if (r.tail < r.head || r.tail - r.head > notify_ring_capacity)
        wipe(r); // torn indexes: start over
    out.entries.reserve(r.tail - r.head);
    for (; r.head < r.tail; ++r.head)
        out.entries.push_back(r.entries[r.head % notify_ring_capacity]);
    std::uint64_t const dropped = r.dropped.load(std::memory_order_relaxed);
    out.lost = dropped != seen_dropped_;
    seen_dropped_ = dropped;
    return out;
}

void notify_rings::reset(std::uint32_t slot)
{
    notify_ring& r = ring(slot);
    ring_guard guard(r);
    wipe(r);
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
