#include "shm/legacy_layout2.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "shm/segment.hpp"

namespace relay::shm::legacy2 {
namespace {

// The layout-2 structs, as every release before Store v2 wrote them (the
// fields this reader uses; the rest is skipped by offset).

/// What layout_fingerprint() gave in those releases (x86-64, glibc): a file
/// with another value was written by a binary with other struct shapes.
constexpr std::uint64_t fingerprint = 0xbf259b5e34625907ull;

struct store_header {
    std::uint32_t magic;
    std::uint32_t version;
    std::uint64_t fingerprint;
    std::uint64_t total_size;
    std::uint64_t created_unix;
    std::uint64_t epoch_unix;
    std::uint64_t hash_seed;
    std::uint32_t shard_count;
    std::uint32_t rate_table_entries;
    std::uint64_t arena_bytes;
    std::uint64_t slots_offset;
    std::uint64_t rate_offset;
    std::uint64_t rings_offset;
    std::uint64_t nonces_offset;
    std::uint64_t addresses_offset;
    std::uint64_t shards_offset;
};

struct shard_header {
    unsigned char lock[sizeof(robust_mutex)];
    std::uint32_t index;
    std::uint32_t page_count;
    std::uint64_t page_table_offset;
    std::uint64_t mailbox_offset;
    std::uint64_t presence_offset;
    std::uint64_t arena_offset;
    std::uint32_t mailbox_capacity;
    std::uint32_t presence_capacity;
    std::uint64_t next_seq;
    std::uint64_t free_head[9];
    std::uint64_t blob_count;
    std::uint64_t kind_count[3];
    std::uint64_t data_bytes;
    std::uint64_t chunk_bytes;
    std::uint32_t mailbox_used;
    std::uint32_t presence_used;
    std::uint64_t repairs;
};

struct chunk_header {
    std::uint32_t state;
    std::uint8_t size_class;
    std::uint8_t flags;
    std::uint16_t sender_message_id_len;
    std::uint32_t bytes_here;
    std::uint8_t kind;
    std::uint8_t reserved[3];
    std::uint64_t seq;
    std::uint64_t next;
    std::uint64_t mailbox_next;
};
static_assert(sizeof(chunk_header) == 40);

struct blob_meta {
    char recipient[64];
    char sender[64];
    std::uint8_t blob_id[16];
    std::uint64_t created_unix;
    std::uint64_t total_bytes;
};
static_assert(sizeof(blob_meta) == 160);

constexpr std::uint32_t committed = 2, continuation = 3;
constexpr std::uint8_t flag_has_sender = 1, flag_delivered_sent = 2;
constexpr std::uint32_t classes = 9;
constexpr std::uint64_t legacy_page = 64 * 1024;

bool is_hex_key(char const* key)
{
    for (std::size_t i = 0; i < key_size; ++i) {
        char const c = key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/// One shard of the image, with every access bounds-checked.
class shard_reader {
public:
    shard_reader(std::uint8_t const* base, std::uint64_t size, shard_header const& h) : base_(base), size_(size), h_(h)
    {
    }

    bool geometry_ok() const
    {
        std::uint64_t const arena_end = h_.arena_offset + std::uint64_t{h_.page_count} * legacy_page;
        return h_.page_table_offset + h_.page_count <= size_ && arena_end <= size_ && arena_end >= h_.arena_offset;
    }

    /// Valid chunk start on an assigned page's grid.
    bool is_chunk(std::uint64_t off) const
    {
        if (off < h_.arena_offset || off >= h_.arena_offset + std::uint64_t{h_.page_count} * legacy_page)
            return false;
        std::uint64_t const rel = off - h_.arena_offset;
        std::uint8_t const cls = base_[h_.page_table_offset + rel / legacy_page];
        return cls < classes && (rel % legacy_page) % (std::uint64_t{256} << cls) == 0;
    }

    chunk_header chunk(std::uint64_t off) const
    {
        chunk_header c;
        std::memcpy(&c, base_ + off, sizeof c);
        return c;
    }

    read_stats read(std::function<void(stored_record const&)> const& sink) const
    {
        read_stats stats;
        struct head_ref {
            std::uint64_t seq, offset;
        };
        std::vector<head_ref> heads;
        for (std::uint32_t p = 0; p < h_.page_count; ++p) {
            std::uint8_t const cls = base_[h_.page_table_offset + p];
            if (cls >= classes)
                continue;
            std::uint64_t const size = std::uint64_t{256} << cls;
            std::uint64_t const first = h_.arena_offset + std::uint64_t{p} * legacy_page;
            for (std::uint64_t off = first; off < first + legacy_page; off += size) {
                chunk_header const c = chunk(off);
                if (c.size_class == cls && c.state == committed)
                    heads.push_back({c.seq, off});
            }
        }
        std::sort(heads.begin(), heads.end(), [](head_ref const& a, head_ref const& b) { return a.seq < b.seq; });
        std::vector<std::uint8_t> used((std::uint64_t{h_.page_count} * legacy_page) >> 8, 0);
        auto unit = [&](std::uint64_t off) { return (off - h_.arena_offset) >> 8; };
        for (head_ref const& hr : heads) {
            chunk_header const head = chunk(hr.offset);
            blob_meta meta;
            std::memcpy(&meta, base_ + hr.offset + sizeof(chunk_header), sizeof meta);
            std::uint64_t const head_room = (std::uint64_t{256} << head.size_class);
            bool ok = head.kind < blob_kind_count && head.sender_message_id_len <= max_sender_message_id &&
                is_hex_key(meta.recipient) &&
                sizeof(chunk_header) + sizeof(blob_meta) + head.sender_message_id_len + head.bytes_here <= head_room &&
                meta.total_bytes <= std::uint64_t{h_.page_count} * legacy_page;
            stored_record r;
            if (ok) {
                r.data.reserve(meta.total_bytes);
                std::uint8_t const* tail = base_ + hr.offset + sizeof(chunk_header) + sizeof(blob_meta);
                r.data.insert(r.data.end(), tail + head.sender_message_id_len,
                              tail + head.sender_message_id_len + head.bytes_here);
                std::vector<std::uint64_t> chain{hr.offset};
                for (std::uint64_t off = head.next; ok && off != 0;) {
                    if (!is_chunk(off) || used[unit(off)] || chain.size() > h_.page_count * 256ull) {
                        ok = false;
                        break;
                    }
                    chunk_header const c = chunk(off);
                    if (c.state != continuation || c.seq != hr.seq ||
                        c.bytes_here + sizeof(chunk_header) > (std::uint64_t{256} << c.size_class) ||
                        r.data.size() + c.bytes_here > meta.total_bytes) {
                        ok = false;
                        break;
                    }
                    std::uint8_t const* bytes = base_ + off + sizeof(chunk_header);
                    r.data.insert(r.data.end(), bytes, bytes + c.bytes_here);
                    chain.push_back(off);
                    off = c.next;
                }
                ok = ok && r.data.size() == meta.total_bytes && !used[unit(hr.offset)];
                if (ok)
                    for (std::uint64_t off : chain)
                        used[unit(off)] = 1;
                if (ok) {
                    r.kind = static_cast<blob_kind>(head.kind);
                    r.key.assign(meta.recipient, key_size);
                    if (head.flags & flag_has_sender) {
                        r.sender.assign(meta.sender, key_size);
                        r.sender_message_id.assign(reinterpret_cast<char const*>(tail), head.sender_message_id_len);
                    }
                    std::memcpy(r.blob_id.data(), meta.blob_id, 16);
                    r.created_unix = meta.created_unix;
                    r.delivered_sent = (head.flags & flag_delivered_sent) != 0;
                }
            }
            if (!ok) {
                ++stats.dropped;
                continue;
            }
            sink(r);
            ++stats.records;
        }
        return stats;
    }

private:
    std::uint8_t const* base_;
    std::uint64_t size_;
    shard_header const& h_;
};

} // namespace

read_stats read_records(std::uint8_t const* base, std::uint64_t size,
                        std::function<void(stored_record const&)> const& sink,
                        std::function<void(std::uint32_t, std::uint32_t)> const& progress)
{
    auto advice = [](std::string const& why) {
        return open_error{"the layout-2 store cannot be migrated: " + why +
                          "; it was left untouched. Start the release that wrote it to drain it, or move it away"};
    };
    if (size < sizeof(store_header))
        throw advice("the file is too small");
    store_header h;
    std::memcpy(&h, base, sizeof h);
    if (h.magic != layout_magic || h.version != legacy_layout_version)
        throw advice("it is not a layout-2 store");
    if (h.fingerprint != fingerprint)
        throw advice("it was written by a binary with other struct shapes (fingerprint differs)");
    if (h.total_size != size)
        throw advice("its header gives " + std::to_string(h.total_size) + " bytes but the file has " +
                     std::to_string(size));
    if (h.shard_count == 0 || h.shard_count > 4096 || h.shards_offset + sizeof(shard_header) * h.shard_count > size)
        throw advice("its shard table does not fit the file");
    read_stats total;
    for (std::uint32_t i = 0; i < h.shard_count; ++i) {
        shard_header sh;
        std::memcpy(&sh, base + h.shards_offset + sizeof(shard_header) * i, sizeof sh);
        shard_reader reader(base, size, sh);
        if (!reader.geometry_ok())
            throw advice("shard " + std::to_string(i) + " does not fit the file");
        auto const s = reader.read(sink);
        total.records += s.records;
        total.dropped += s.dropped;
        if (progress)
            progress(i + 1, h.shard_count);
    }
    return total;
}

} // namespace relay::shm::legacy2
