// Store operations of the two record kinds besides updates: device-sync
// messages (docs/protocol.md#s7-6–7.7) and recovery proofs (§7.8–7.9). They live in
// the same shards, chunks and crash-safety scheme as updates (shm/store.cpp);
// only their mailbox kind and how they are listed differ.

#include <algorithm>
#include <cstring>

#include "shm/chunk_plan.hpp"
#include "shm/device_sync_record.hpp"
#include "shm/store.hpp"

namespace relay::shm {
namespace {

static_assert(device_sync_record::prefix_size <= head_data_min, "the prefix must be in the head chunk");

/// The first bytes of a blob's data, which are always in its head chunk
/// (up to head_data_min of them: chunk_plan.hpp).
std::uint8_t const* head_data(shard_view const& s, std::uint64_t head)
{
    return s.head_tail(head) + s.chunk(head)->sender_message_id_len;
}

bool targets_device(shard_view const& s, std::uint64_t head, std::string_view device_id)
{
    return s.chunk(head)->bytes_here >= device_sync_record::prefix_size && device_id.size() == key_size &&
        std::memcmp(head_data(s, head), device_id.data(), key_size) == 0;
}

} // namespace

std::vector<device_sync_ref> store::list_device_sync(std::string_view client_id, std::string_view device_id)
{
    std::vector<device_sync_ref> out;
    std::uint32_t const index = shard_of(client_id);
    shard_view s = shard(index);
    {
        shard_guard guard(s);
        for (std::uint64_t off = s.find_mailbox_locked(blob_kind::device_sync, client_id); off != 0;
             off = s.chunk(off)->mailbox_next)
            if (targets_device(s, off, device_id))
                out.push_back({{index, blob_kind::device_sync, off, s.chunk(off)->seq},
                               device_sync_record::read_version(head_data(s, off))});
    }
    // Mailboxes are in arrival order, so a stable sort by version gives
    // "version ascending, then creation" (docs/protocol.md#s7-6).
    std::stable_sort(out.begin(), out.end(),
                     [](device_sync_ref const& a, device_sync_ref const& b) { return a.version < b.version; });
    return out;
}

bool store::remove_device_sync(std::string_view client_id, std::string_view device_id, random::uuid const& id)
{
    shard_view s = shard(shard_of(client_id));
    shard_guard guard(s);
    auto const at = s.find_blob_locked(blob_kind::device_sync, client_id, id.data(),
                                       [&](std::uint64_t head) { return targets_device(s, head, device_id); });
    if (at.head == 0)
        return false;
    s.delete_record_locked(at.anchor, at.prev, at.head);
    return true;
}

std::optional<std::vector<std::uint8_t>> store::find_recovery_proof(std::string_view key_hash,
                                                                    std::uint64_t created_after)
{
    std::uint32_t const index = shard_of(key_hash);
    shard_view s = shard(index);
    blob_ref newest{index, blob_kind::recovery_proof, 0, 0};
    {
        shard_guard guard(s);
        std::uint64_t const a = s.find_mailbox_locked(blob_kind::recovery_proof, key_hash);
        if (a == 0)
            return std::nullopt;
        std::uint64_t const tail = s.anchor(a).tail;
        if (s.meta(tail)->created_unix <= created_after)
            return std::nullopt;
        newest.offset = tail;
        newest.seq = s.chunk(tail)->seq;
    }
    // fetch() re-takes the lock and re-checks the reference, so a proof replaced
    // or purged in between is simply not found.
    auto d = fetch(newest, blob_kind::recovery_proof, key_hash);
    if (!d)
        return std::nullopt;
    return std::move(d->data);
}

} // namespace relay::shm
