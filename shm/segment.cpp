#include "shm/segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/random.hpp"
#include "shm/space_reservation.hpp"

namespace bip = boost::interprocess;

namespace relay::shm {
namespace {

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

struct offsets {
    std::uint64_t slots, rate, nonces, addresses, rings, shards, per_shard_tables, total;
};

std::uint64_t shard_tables_size(geometry const& g, std::uint32_t pages)
{
    std::uint64_t s = align_up(pages, 64);
    s += align_up(std::uint64_t{g.mailbox_capacity} * sizeof(mailbox_entry), 64);
    s += align_up(std::uint64_t{g.presence_capacity} * sizeof(presence_entry), 64);
    return align_up(s, page_size);
}

std::uint32_t pages_per_shard(geometry const& g) { return static_cast<std::uint32_t>(g.arena_bytes / g.shard_count / page_size); }

offsets compute(geometry const& g)
{
    offsets o{};
    o.slots = align_up(sizeof(store_header), 4096);
    o.rate = align_up(o.slots + sizeof(worker_slot) * max_worker_slots, 4096);
    o.nonces = align_up(o.rate + sizeof(rate_entry) * g.rate_table_entries, 4096);
    o.addresses = align_up(o.nonces + sizeof(nonce_entry) * nonce_table_entries, 4096);
    o.rings = align_up(o.addresses + sizeof(address_entry) * address_table_entries * max_worker_slots, 4096);
    o.shards = align_up(o.rings + sizeof(notify_ring) * max_worker_slots, 4096);
    std::uint64_t const headers = align_up(sizeof(shard_header) * g.shard_count, page_size);
    o.per_shard_tables = shard_tables_size(g, pages_per_shard(g));
    o.total = o.shards + headers + g.shard_count * (o.per_shard_tables + std::uint64_t{pages_per_shard(g)} * page_size);
    return o;
}

std::string errno_text() { return std::strerror(errno); }

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

/// Bytes of the open file `fd` that have blocks.
std::uint64_t allocated_bytes(int fd)
{
    struct stat st{};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
}

/// Why the store at `path` could not be reserved, with what to do about it.
/// `missing`: the bytes it still lacks blocks for; the space available is
/// read now, so call this once a failed attempt has been cleaned up.
open_error shortfall(std::string const& path, std::uint64_t missing, int error, std::string const& advice)
{
    std::string const dir = std::filesystem::path(path).parent_path().string();
    return open_error{"cannot reserve store file " + path + ": it needs " + mib(missing + (1u << 20) - 1) +
                      " more and " + mib(available_bytes(dir.empty() ? "." : dir)) + " are available there (" +
                      std::strerror(error) + "). " + advice +
                      " (a store that is not reserved would stop its workers with SIGBUS once the space runs out)"};
}

/// Unlinks a half-made store file unless creation got as far as keep().
class unlink_unless_kept {
public:
    explicit unlink_unless_kept(std::string path) : path_(std::move(path)) {}
    ~unlink_unless_kept()
    {
        if (!kept_)
            ::unlink(path_.c_str());
    }
    unlink_unless_kept(unlink_unless_kept const&) = delete;
    unlink_unless_kept& operator=(unlink_unless_kept const&) = delete;
    void keep() { kept_ = true; }

private:
    std::string path_;
    bool kept_ = false;
};

/// Creates, sizes, optionally reserves and formats a store file at `path`
/// (under a temporary name, renamed when done). Returns whether it is reserved.
bool create_file_store(std::string const& path, geometry const& g, backing policy)
{
    // Create under a temporary name and rename when formatted, so that a crash
    // during creation never leaves a file that looks like a store; any other
    // failure removes it, so that no reserved gigabytes stay behind.
    std::string const tmp = path + ".creating";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw open_error{"cannot create store " + tmp + ": " + errno_text() + " (check RELAY_DATA_DIR permissions)"};
    unlink_unless_kept guard(tmp);
    std::uint64_t const size = segment_size(g);
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        int const err = errno;
        ::close(fd);
        throw open_error{"cannot size store " + tmp + " to " + std::to_string(size) + " bytes: " + std::strerror(err)};
    }
    bool reserved = false;
    if (policy == backing::reserved) {
        auto const r = reserve_space(fd, size);
        if (!r.reserved() && !r.unsupported()) {
            ::close(fd);
            ::unlink(tmp.c_str()); // first, so that the space it took counts as available
            throw shortfall(path, size, r.error, "Free disk space in RELAY_DATA_DIR or lower RELAY_MAX_STORAGE_BYTES");
        }
        reserved = r.reserved();
    }
    ::close(fd);
    try {
        bip::file_mapping fm(tmp.c_str(), bip::read_write);
        bip::mapped_region region(fm, bip::read_write);
        format(static_cast<std::uint8_t*>(region.get_address()), size, g);
        region.flush(0, 0, false);
    } catch (bip::interprocess_exception const& e) {
        throw open_error{"cannot map the new store " + tmp + ": " + e.what()};
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        throw open_error{"cannot rename " + tmp + " to " + path + ": " + errno_text()};
    guard.keep();
    return reserved;
}

} // namespace

std::uint64_t segment_size(geometry const& g) { return compute(g).total; }

void format(std::uint8_t* base, std::uint64_t size, geometry const& g)
{
    offsets const o = compute(g);
    auto* h = new (base) store_header{};
    h->version = layout_version;
    h->fingerprint = layout_fingerprint();
    h->total_size = size;
    h->created_unix = static_cast<std::uint64_t>(std::time(nullptr));
    h->epoch_unix = h->created_unix;
    h->hash_seed = random::u64() | 1;
    h->shard_count = g.shard_count;
    h->rate_table_entries = g.rate_table_entries;
    h->slots_offset = o.slots;
    h->rate_offset = o.rate;
    h->nonces_offset = o.nonces;
    h->addresses_offset = o.addresses;
    h->rings_offset = o.rings;
    h->shards_offset = o.shards;
    std::uint32_t const pages = pages_per_shard(g);
    h->arena_bytes = std::uint64_t{pages} * page_size * g.shard_count;

    auto* shards = reinterpret_cast<shard_header*>(base + o.shards);
    std::uint64_t cursor = o.shards + align_up(sizeof(shard_header) * g.shard_count, page_size);
    for (std::uint32_t i = 0; i < g.shard_count; ++i) {
        auto* s = new (&shards[i]) shard_header{};
        s->index = i;
        s->page_count = pages;
        s->page_table_offset = cursor;
        s->mailbox_offset = cursor + align_up(pages, 64);
        s->presence_offset = s->mailbox_offset + align_up(std::uint64_t{g.mailbox_capacity} * sizeof(mailbox_entry), 64);
        s->mailbox_capacity = g.mailbox_capacity;
        s->presence_capacity = g.presence_capacity;
        s->arena_offset = cursor + o.per_shard_tables;
        std::memset(base + s->page_table_offset, page_unassigned, pages);
        s->next_seq = 1;
        cursor = s->arena_offset + std::uint64_t{pages} * page_size;
    }
    h->clean_shutdown.store(1);
    // The stamp goes last: a store whose creation was interrupted has no magic
    // and is refused at the next start instead of being half-trusted.
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = layout_magic;
}

void validate(std::uint8_t const* base, std::uint64_t size, std::string const& what)
{
    if (size < sizeof(store_header))
        throw open_error{what + " is too small to be a vauchi-relay store (" + std::to_string(size) +
                         " bytes); move it away to start with a new store"};
    auto const* h = reinterpret_cast<store_header const*>(base);
    if (h->magic != layout_magic) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "0x%08x", h->magic);
        throw open_error{what + " is not a vauchi-relay store or its creation was interrupted (magic " + buf +
                         "); it was left untouched: move it away to start with a new store"};
    }
    if (h->version != layout_version || h->fingerprint != layout_fingerprint())
        throw open_error{what + " has store layout version " + std::to_string(h->version) +
                         ", this binary needs layout version " + std::to_string(layout_version) +
                         " (fingerprint differs); it was left untouched: start the relay version that wrote it "
                         "to drain it, or move it away"};
    if (h->total_size != size)
        throw open_error{what + " is " + std::to_string(size) + " bytes but its header says " +
                         std::to_string(h->total_size) + "; it looks truncated: restore it or move it away"};
}

segment segment::open_or_create_file(std::string const& path, geometry const& g, bool& created, backing policy)
{
    created = false;
    bool reserved = false;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            throw open_error{"cannot stat store " + path + ": " + errno_text()};
        reserved = create_file_store(path, g, policy);
        created = true;
    }
    try {
        bip::file_mapping fm(path.c_str(), bip::read_write);
        bip::mapped_region region(fm, bip::read_write);
        validate(static_cast<std::uint8_t const*>(region.get_address()), region.get_size(), "store file " + path);
        if (policy == backing::reserved && !created) {
            // A store written by an earlier version, or copied, may be sparse.
            int const fd = fm.get_mapping_handle().handle;
            auto const r = reserve_space(fd, region.get_size());
            if (!r.reserved() && !r.unsupported())
                // What the failed attempt allocated stays: the store keeps it.
                throw shortfall(path, region.get_size() - std::min<std::uint64_t>(allocated_bytes(fd), region.get_size()),
                                r.error,
                                "Free disk space in RELAY_DATA_DIR; the store keeps its size (to start with a "
                                "smaller one, stop the relay, move the store away and lower "
                                "RELAY_MAX_STORAGE_BYTES)");
            reserved = r.reserved();
        }
        segment seg(std::move(region));
        seg.space_reserved_ = reserved;
        return seg;
    } catch (bip::interprocess_exception const& e) {
        throw open_error{"cannot map store file " + path + ": " + e.what()};
    }
}

segment segment::create_memory(std::string const& name, geometry const& g)
{
    try {
        bip::shared_memory_object::remove(name.c_str());
        bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, bip::permissions(0600));
        std::uint64_t const size = segment_size(g);
        // Boost sizes the object with posix_fallocate where the filesystem can
        // (tmpfs can): a /dev/shm too small for the store fails here, not
        // with SIGBUS in a worker later.
        shm.truncate(static_cast<bip::offset_t>(size));
        struct stat st{};
        bool const reserved = ::fstat(shm.get_mapping_handle().handle, &st) == 0 &&
                              static_cast<std::uint64_t>(st.st_blocks) * 512 >= size;
        bip::mapped_region region(shm, bip::read_write);
        format(static_cast<std::uint8_t*>(region.get_address()), size, g);
        segment seg(std::move(region));
        seg.space_reserved_ = reserved;
        return seg;
    } catch (bip::interprocess_exception const& e) {
        throw open_error{"cannot create POSIX shared memory " + name + ": " + e.what() +
                         " (is /dev/shm mounted and large enough for RELAY_MAX_STORAGE_BYTES?)"};
    }
}

void segment::remove_memory(std::string const& name) { bip::shared_memory_object::remove(name.c_str()); }

void segment::flush_async()
{
    if (valid())
        region_.flush(0, 0, true);
}

} // namespace relay::shm
