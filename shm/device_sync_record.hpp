#pragma once
// How a DeviceSyncMessage is kept in the store (docs/protocol.md#s7-6): the blob data
// of a blob_kind::device_sync record is
//
//   target_device_id (64 chars) | sender_device_id (64 chars) | version (u64 LE) | encrypted_payload
//
// The mailbox key is the client_id, so a purge with include_device_sync empties
// every device of the identity at once, while delivery and DeviceSyncAck filter
// on the target device. A head chunk holds the first min(length, chunk − head
// overhead) data bytes and the largest chunk is far bigger than the prefix, so
// the prefix is always readable without following continuation chunks.

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "shm/layout.hpp"

namespace relay::shm::device_sync_record {

inline constexpr std::size_t prefix_size = 2 * key_size + 8;
static_assert(head_overhead + max_sender_message_id + prefix_size <= page_size);

struct view {
    std::string_view target_device_id;
    std::string_view sender_device_id;
    std::uint64_t version = 0;
    std::span<std::uint8_t const> payload;
};

/// Both device ids must be 64 characters (validated by the caller, D-9).
inline std::vector<std::uint8_t> pack(std::string_view target, std::string_view sender, std::uint64_t version,
                                      std::span<std::uint8_t const> payload)
{
    std::vector<std::uint8_t> out(prefix_size + payload.size());
    std::memcpy(out.data(), target.data(), key_size);
    std::memcpy(out.data() + key_size, sender.data(), key_size);
    for (int i = 0; i < 8; ++i)
        out[2 * key_size + i] = static_cast<std::uint8_t>(version >> (8 * i));
    if (!payload.empty())
        std::memcpy(out.data() + prefix_size, payload.data(), payload.size());
    return out;
}

inline std::uint64_t read_version(std::uint8_t const* prefix)
{
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | prefix[2 * key_size + i];
    return v;
}

/// False if `data` is too short to be a record (never for what pack() wrote).
inline bool unpack(std::span<std::uint8_t const> data, view& out)
{
    if (data.size() < prefix_size)
        return false;
    auto const* chars = reinterpret_cast<char const*>(data.data());
    out.target_device_id = {chars, key_size};
    out.sender_device_id = {chars + key_size, key_size};
    out.version = read_version(data.data());
    out.payload = data.subspan(prefix_size);
    return true;
}

} // namespace relay::shm::device_sync_record
