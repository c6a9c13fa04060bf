#include "shm/address_counts.hpp"

#include <string_view>

#include "shm/shard.hpp"

namespace relay::shm {
namespace {

constexpr std::uint32_t mask = address_table_entries - 1;
static_assert((address_table_entries & mask) == 0);
/// Keep a quarter free so probe runs stay short; beyond this, admit uncounted.
constexpr std::uint32_t max_used = address_table_entries / 4 * 3;

std::uint32_t home_of(std::uint64_t key) { return static_cast<std::uint32_t>(key) & mask; }

} // namespace

address_counts::address_counts(std::uint8_t* base, store_header const& header, std::uint32_t own_slot) noexcept
    : base_(base), header_(header), own_(own_slot)
{
    // Normally 0 (the supervisor resets a slot before respawning it); counted
    // once so that the entry count stays exact whatever the table holds.
    address_entry const* t = table(own_);
    for (std::uint32_t i = 0; i < address_table_entries; ++i)
        used_ += t[i].key.load(std::memory_order_relaxed) != 0;
}

address_entry* address_counts::table(std::uint32_t slot) const noexcept
{
    return reinterpret_cast<address_entry*>(base_ + header_.addresses_offset) +
        std::uint64_t{slot} * address_table_entries;
}

std::uint64_t address_counts::key_of(std::span<std::uint8_t const> address) const noexcept
{
    std::uint64_t const h = key_hash(header_.hash_seed ^ 0x6164647265737300ull,
                                     {reinterpret_cast<char const*>(address.data()), address.size()});
    return h == 0 ? 1 : h;
}

std::uint32_t address_counts::count_in(std::uint32_t slot, std::uint64_t key) const noexcept
{
    address_entry const* t = table(slot);
    for (std::uint32_t i = home_of(key), probes = 0; probes < address_table_entries; i = (i + 1) & mask, ++probes) {
        std::uint64_t const k = t[i].key.load(std::memory_order_acquire);
        if (k == 0)
            return 0;
        if (k == key)
            return t[i].count.load(std::memory_order_relaxed);
    }
    return 0;
}

std::uint64_t address_counts::total(std::uint64_t key) const
{
    std::uint64_t sum = 0;
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        sum += count_in(s, key);
    return sum;
}

address_counts::admission address_counts::try_acquire(std::uint64_t key, std::uint64_t limit)
{
    if (limit == 0)
        return admission::uncounted;
    if (total(key) >= limit)
        return admission::refused;
    address_entry* t = table(own_);
    std::uint32_t i = home_of(key);
    for (;; i = (i + 1) & mask) {
        std::uint64_t const k = t[i].key.load(std::memory_order_relaxed);
        if (k == key) {
            t[i].count.fetch_add(1, std::memory_order_relaxed);
            return admission::counted;
        }
        if (k == 0)
            break;
    }
    if (used_ >= max_used)
        return admission::uncounted;
    ++used_;
    t[i].count.store(1, std::memory_order_relaxed);
    t[i].key.store(key, std::memory_order_release);
    return admission::counted;
}

void address_counts::release(std::uint64_t key)
{
    address_entry* t = table(own_);
    std::uint32_t hole = home_of(key);
    for (;; hole = (hole + 1) & mask) {
        std::uint64_t const k = t[hole].key.load(std::memory_order_relaxed);
        if (k == 0)
            return; // not counted here (e.g. after a slot reset)
        if (k == key)
            break;
    }
    if (t[hole].count.fetch_sub(1, std::memory_order_relaxed) > 1)
        return;
    // Last connection of the address: backward-shift deletion. A reader racing
    // the shift may miss an entry for an instant and undercount by its count,
    // which only makes the cap momentarily softer.
    for (std::uint32_t j = hole;;) {
        j = (j + 1) & mask;
        std::uint64_t const k = t[j].key.load(std::memory_order_relaxed);
        if (k == 0)
            break;
        std::uint32_t const home = home_of(k);
        bool const movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            t[hole].count.store(t[j].count.load(std::memory_order_relaxed), std::memory_order_relaxed);
            t[hole].key.store(k, std::memory_order_release);
            hole = j;
        }
    }
    t[hole].key.store(0, std::memory_order_release);
    t[hole].count.store(0, std::memory_order_relaxed);
    --used_;
}

void address_counts::reset_slot(std::uint8_t* base, store_header const& header, std::uint32_t slot) noexcept
{
    address_entry* t =
        reinterpret_cast<address_entry*>(base + header.addresses_offset) + std::uint64_t{slot} * address_table_entries;
    for (std::uint32_t i = 0; i < address_table_entries; ++i) {
        t[i].key.store(0, std::memory_order_relaxed);
        t[i].count.store(0, std::memory_order_relaxed);
    }
}

} // namespace relay::shm
