#include "shm/presence_table.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/log.hpp"
#include "shm/fault_injection.hpp"
#include "shm/shard.hpp"

namespace relay::shm {
namespace {

bool matches(presence_entry const& e, std::string_view key) noexcept
{
    return key.size() == key_size && std::memcmp(e.key, key.data(), key_size) == 0;
}

} // namespace

presence_table::presence_table(std::uint8_t* base) noexcept
{
    auto const& h = *reinterpret_cast<store_header const*>(base);
    header_ = reinterpret_cast<presence_header*>(base + h.presence_offset);
    entries_ = reinterpret_cast<presence_entry*>(base + h.presence_offset + presence_entries_at);
    capacity_ = h.presence_capacity;
    seed_ = h.hash_seed;
}

std::uint32_t presence_table::home(std::string_view key) const noexcept
{
    return static_cast<std::uint32_t>(table_hash(seed_, blob_kind::update, key)) & (capacity_ - 1);
}

void presence_table::prefetch(std::string_view key) const noexcept
{
    presence_entry const& e = entries_[home(key)];
    __builtin_prefetch(&e.used);
    __builtin_prefetch(e.key);
}

presence_entry* presence_table::find_locked(std::string_view key) const
{
    std::uint32_t const mask = capacity_ - 1;
    std::uint32_t i = home(key);
    for (std::uint32_t probes = 0; probes < capacity_; ++probes, i = (i + 1) & mask) {
        if (!entries_[i].used)
            return nullptr;
        if (matches(entries_[i], key))
            return &entries_[i];
    }
    return nullptr;
}

presence_entry* presence_table::find_or_add_locked(std::string_view key)
{
    if (auto* e = find_locked(key))
        return e;
    // Tests of the push fallback shrink the table to make it full.
    static std::uint32_t const test_limit = test_capacity("VAUCHI_TEST_PRESENCE_LIMIT", UINT32_MAX);
    if (header_->used + 1 > std::min(usable(capacity_), test_limit))
        return nullptr;
    std::uint32_t const mask = capacity_ - 1;
    std::uint32_t i = home(key);
    while (entries_[i].used)
        i = (i + 1) & mask;
    presence_entry& e = entries_[i];
    std::memset(static_cast<void*>(&e), 0, sizeof e);
    std::memcpy(e.key, key.data(), key_size);
    e.kind = static_cast<std::uint8_t>(blob_kind::update);
    e.used = 1;
    header_->used += 1;
    return &e;
}

void presence_table::erase_locked(presence_entry* victim)
{
    std::uint32_t const mask = capacity_ - 1;
    std::uint32_t hole = static_cast<std::uint32_t>(victim - entries_);
    std::uint32_t j = hole;
    // Backward shift: later members of the probe run move into the hole, so
    // that lookups never need tombstones.
    for (;;) {
        j = (j + 1) & mask;
        if (!entries_[j].used)
            break;
        std::uint32_t const h = home(std::string_view(entries_[j].key, key_size));
        // The entry at j may move to the hole only if its home is not in (hole, j].
        bool const movable = (hole <= j) ? (h <= hole || h > j) : (h <= hole && h > j);
        if (movable) {
            std::memcpy(static_cast<void*>(&entries_[hole]), &entries_[j], sizeof(presence_entry));
            RELAY_KILL_POINT("table.erase_shift");
            hole = j;
        }
    }
    entries_[hole].used = 0;
    header_->used -= 1;
}

void presence_table::reset_slot_locked(std::uint32_t slot)
{
    for (std::uint32_t i = 0; i < capacity_;) {
        presence_entry* p = &entries_[i];
        if (!p->used || p->per_slot[slot] == 0) {
            ++i;
            continue;
        }
        p->total -= p->per_slot[slot];
        p->per_slot[slot] = 0;
        if (p->total == 0)
            erase_locked(p); // may shift another entry into i: look again
        else
            ++i;
    }
}

void presence_table::rebuild_locked()
{
    // A death in the middle of a backward shift can leave one entry twice;
    // merging with max() keeps every connection that was counted.
    std::vector<presence_entry> old;
    for (std::uint32_t i = 0; i < capacity_; ++i)
        if (entries_[i].used && entries_[i].kind == static_cast<std::uint8_t>(blob_kind::update))
            old.push_back(entries_[i]);
    clear_locked();
    for (presence_entry const& o : old) {
        presence_entry* e = find_or_add_locked(std::string_view(o.key, key_size));
        if (e == nullptr)
            continue;
        e->total = 0;
        for (std::uint32_t s = 0; s < max_worker_slots; ++s) {
            e->per_slot[s] = std::max(e->per_slot[s], o.per_slot[s]);
            e->total += e->per_slot[s];
        }
        if (e->total == 0)
            erase_locked(e);
    }
}

void presence_table::clear_locked()
{
    std::memset(static_cast<void*>(entries_), 0, sizeof(presence_entry) * std::uint64_t{capacity_});
    header_->used = 0;
}

check_result presence_table::check_locked() const
{
    std::uint32_t used = 0;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        presence_entry const& e = entries_[i];
        if (!e.used)
            continue;
        ++used;
        std::uint32_t total = 0;
        for (auto n : e.per_slot)
            total += n;
        if (total != e.total || total == 0)
            return check_result::failure("presence entry counts disagree");
        if (find_locked(std::string_view(e.key, key_size)) != &e)
            return check_result::failure("presence entry not reachable by lookup");
    }
    if (used != header_->used)
        return check_result::failure("presence table size disagrees");
    return {};
}

void presence_table::reinit_lock() { header_->lock.init(); }

std::uint64_t presence_table::slot_mask(presence_entry const& e) noexcept
{
    std::uint64_t mask = 0;
    for (std::uint32_t s = 0; s < max_worker_slots; ++s)
        if (e.per_slot[s] != 0)
            mask |= std::uint64_t{1} << s;
    return mask;
}

presence_guard::presence_guard(presence_table& table) : table_(table)
{
    if (table_.header().lock.lock() != lock_outcome::owner_died)
        return;
    table_.rebuild_locked();
    RELAY_LOG_WARN("presence table: previous lock holder died; rebuilt (%u routing ids online)", table_.header().used);
    table_.header().lock.mark_consistent();
}

presence_guard::~presence_guard() { table_.header().lock.unlock(); }

} // namespace relay::shm
