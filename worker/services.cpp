#include "worker/services.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/clock.hpp"
#include "worker/handler.hpp"

namespace relay::worker {

worker_services::worker_services(config const& cfg, std::uint8_t* store_base, std::uint32_t slot,
                                 std::vector<int> event_fds, std::uint64_t relay_start_unix,
                                 std::optional<noise::dh_key> noise_key)
    : cfg_(cfg), store_(store_base, slot), // its puts copy payloads outside the shard lock (docs/store.md)
      rings_(store_base, store_.header()), limiter_(store_base, store_.header()), nonces_(store_base, store_.header()),
      addresses_(store_base, store_.header(), slot), slot_(slot), event_fds_(std::move(event_fds)),
      relay_start_unix_(relay_start_unix), noise_key_(std::move(noise_key))
{
}

void worker_services::count(shm::counter c, std::uint64_t n) noexcept
{
    slot_state().counters[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
}

void worker_services::record_duration(std::chrono::nanoseconds spent) noexcept
{
    double const seconds = std::chrono::duration<double>(spent).count();
    std::size_t bucket = 0;
    while (bucket < shm::duration_bucket_count && seconds > shm::duration_bucket_bounds[bucket])
        ++bucket;
    shm::worker_slot& slot = slot_state();
    slot.duration_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    slot.duration_sum_ns.fetch_add(static_cast<std::uint64_t>(spent.count()), std::memory_order_relaxed);
}

std::uint64_t worker_services::now_unix() { return clock::wall_unix(); }

void worker_services::register_handler(std::string_view routing_id, connection_handler* h)
{
    local_[std::string(routing_id)].push_back(h);
}

void worker_services::unregister_handler(std::string_view routing_id, connection_handler* h)
{
    auto it = local_.find(routing_id);
    if (it == local_.end())
        return;
    std::erase(it->second, h);
    if (it->second.empty())
        local_.erase(it);
}

std::vector<connection_handler*> const* worker_services::local_handlers(std::string_view routing_id) const
{
    auto it = local_.find(routing_id);
    return it == local_.end() ? nullptr : &it->second;
}

void worker_services::notify(std::uint64_t slots, shm::notify_entry const& entry, local when)
{
    for (std::uint32_t s = 0; s < shm::max_worker_slots && slots != 0; ++s) {
        if (!(slots & (std::uint64_t{1} << s)))
            continue;
        slots &= ~(std::uint64_t{1} << s);
        if (s == slot_) {
            if (when == local::now)
                dispatch_local(entry);
            else
                deferred_.push_back(entry);
            continue;
        }
        if (s >= event_fds_.size() || !rings_.post(s, entry)) {
            count(shm::counter::notifications_dropped_total);
            continue;
        }
        std::uint64_t const one = 1;
        [[maybe_unused]] auto n = ::write(event_fds_[s], &one, sizeof one);
    }
}

void worker_services::notify_routing_id(shm::notify_entry const& entry, local when)
{
    std::string_view const routing(entry.routing_id, shm::key_size);
    notify(store_.live_slots(routing), entry, when);
}

void worker_services::dispatch_deferred()
{
    auto entries = std::move(deferred_);
    deferred_.clear();
    for (auto const& entry : entries)
        dispatch_local(entry);
}

void worker_services::catch_up_all()
{
    count(shm::counter::push_catch_ups_total);
    std::vector<connection_handler*> everyone;
    for (auto const& [routing_id, handlers] : local_)
        everyone.insert(everyone.end(), handlers.begin(), handlers.end());
    for (connection_handler* h : everyone)
        h->catch_up();
}

void worker_services::dispatch_local(shm::notify_entry const& entry)
{
    auto const* handlers = local_handlers(std::string_view(entry.routing_id, shm::key_size));
    if (handlers == nullptr)
        return;
    // Copy: a handler reacting to the notification must not invalidate the walk.
    auto const targets = *handlers;
    for (connection_handler* h : targets)
        h->on_notification(entry);
}

} // namespace relay::worker
