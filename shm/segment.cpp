#include "shm/segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/random.hpp"
#include "shm/page_pool.hpp"
#include "shm/presence_table.hpp"
#include "shm/rate_limiter.hpp"
#include "shm/record_crc.hpp"
#include "shm/space_reservation.hpp"

namespace bip = boost::interprocess;

namespace relay::shm {
namespace {

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

/// Everything that sizes the tail.
struct tail_shape {
    std::uint32_t page_count;
    std::uint32_t shard_count;
    std::uint32_t rate_table_entries;
    std::uint32_t presence_capacity;
    std::uint32_t buckets_per_shard;
};

struct tail_offsets {
    std::uint64_t tail, slots, rate, nonces, addresses, rings, pool, descs, shards, buckets, presence, total;
};

tail_offsets compute(tail_shape const& t)
{
    tail_offsets o{};
    o.tail = page_size + std::uint64_t{t.page_count} * page_size;
    o.slots = o.tail;
    o.rate = align_up(o.slots + sizeof(worker_slot) * max_worker_slots, 4096);
    o.nonces = align_up(o.rate + sizeof(rate_entry) * std::uint64_t{t.rate_table_entries}, 4096);
    o.addresses = align_up(o.nonces + sizeof(nonce_entry) * std::uint64_t{nonce_table_entries}, 4096);
    o.rings =
        align_up(o.addresses + sizeof(address_entry) * std::uint64_t{address_table_entries} * max_worker_slots, 4096);
    o.pool = align_up(o.rings + sizeof(notify_ring) * max_worker_slots, 4096);
    o.descs = align_up(o.pool + sizeof(pool_header), 64);
    o.shards = align_up(o.descs + sizeof(page_desc) * std::uint64_t{t.page_count}, 4096);
    o.buckets = align_up(o.shards + sizeof(shard_header) * std::uint64_t{t.shard_count}, 4096);
    o.presence = align_up(o.buckets + 8 * std::uint64_t{t.buckets_per_shard} * t.shard_count, 4096);
    o.total =
        align_up(o.presence + presence_entries_at + sizeof(presence_entry) * std::uint64_t{t.presence_capacity}, 4096);
    return o;
}

std::uint32_t pages_for(std::uint64_t arena_bytes)
{
    return static_cast<std::uint32_t>(std::max<std::uint64_t>(1, arena_bytes / page_size));
}

/// One bucket per 4 KiB of capacity in all (a lookup then rarely walks more
/// than one anchor), at least 64 per shard.
std::uint32_t buckets_for(std::uint32_t page_count, std::uint32_t shard_count)
{
    std::uint64_t const total =
        std::bit_ceil(std::max<std::uint64_t>(std::uint64_t{page_count} * (page_size / 4096), 64ull * shard_count));
    return static_cast<std::uint32_t>(total / shard_count);
}

tail_shape shape_of(geometry const& g, std::uint32_t page_count)
{
    return {page_count, g.shard_count, g.rate_table_entries, g.presence_capacity,
            buckets_for(page_count, g.shard_count)};
}

tail_shape shape_of(store_header const& h)
{
    return {h.page_count, h.shard_count, h.rate_table_entries, h.presence_capacity, h.buckets_per_shard};
}

/// Lays the tail out for `t` and records it in the header. `zeroed`: the
/// tail's bytes are known to be zero (a new file), so they are not written:
/// a store's pages become resident only when used.
void lay_out_tail(std::uint8_t* base, tail_shape const& t, bool zeroed = false)
{
    auto& h = *reinterpret_cast<store_header*>(base);
    tail_offsets const o = compute(t);
    if (!zeroed)
        std::memset(base + o.tail, 0, o.total - o.tail);
    h.tail_fingerprint = tail_fingerprint();
    h.total_size = o.total;
    h.tail_offset = o.tail;
    h.rate_table_entries = t.rate_table_entries;
    h.presence_capacity = t.presence_capacity;
    h.buckets_per_shard = t.buckets_per_shard;
    h.slots_offset = o.slots;
    h.rate_offset = o.rate;
    h.nonces_offset = o.nonces;
    h.addresses_offset = o.addresses;
    h.rings_offset = o.rings;
    h.pool_offset = o.pool;
    h.descs_offset = o.descs;
    h.shards_offset = o.shards;
    h.buckets_offset = o.buckets;
    h.presence_offset = o.presence;

    page_pool pool(base);
    new (&pool.header()) pool_header{};
    pool.reinit_lock();
    pool.reset_all_free();
    new (base + o.presence) presence_header{};
    presence_table(base).reinit_lock();
    rate_limiter(base, h).reset();
    auto* shards = reinterpret_cast<shard_header*>(base + o.shards);
    for (std::uint32_t i = 0; i < t.shard_count; ++i) {
        auto* s = new (&shards[i]) shard_header{};
        s->lock.init();
        s->index = i;
        s->buckets = t.buckets_per_shard;
        s->buckets_offset = o.buckets + 8 * std::uint64_t{t.buckets_per_shard} * i;
        std::fill(std::begin(s->partial_head), std::end(s->partial_head), no_page);
        s->next_seq = 1;
    }
}

} // namespace

/// The checksum of the header's identity: everything that says what the
/// records mean (seeds) and where they are (geometry of the arena).
std::uint32_t header_identity_crc(store_header const& h)
{
    std::uint64_t const fields[] = {h.magic,      h.version,      h.arena_fingerprint, h.created_unix,
                                    h.epoch_unix, h.hash_seed,    h.crc_seed,          h.shard_count,
                                    h.page_count, h.arena_offset, h.arena_bytes};
    return ~crc32c_extend(~0u, fields, sizeof fields);
}

namespace {

std::uint32_t identity_crc(store_header const& h) { return header_identity_crc(h); }

/// Seals the identity after a change: its checksum, then the copy.
void seal_identity(std::uint8_t* base)
{
    auto& h = *reinterpret_cast<store_header*>(base);
    h.identity_crc = identity_crc(h);
    std::memcpy(base + header_copy_offset, base, sizeof(store_header));
}

bool is_pow2_in(std::uint64_t v, std::uint64_t lo, std::uint64_t hi)
{
    return v >= lo && v <= hi && std::has_single_bit(v);
}

std::string field_error(std::string const& what, char const* field, std::uint64_t value, std::string const& expected)
{
    return what + ": header field " + field + " is " + std::to_string(value) + ", " + expected +
        "; the file is damaged and was left untouched: restore it from a backup or move it away "
        "(vauchi-relay --export may still read its records)";
}

/// The header's own fields and the arena: what must hold for any use.
void validate_arena(std::uint8_t const* base, std::uint64_t size, std::string const& what)
{
    if (size < page_size + sizeof(store_header))
        throw damaged_store{what + " is too small to be a vauchi-relay store (" + std::to_string(size) +
                            " bytes); move it away to start with a new store"};
    auto const* h = reinterpret_cast<store_header const*>(base);
    if (h->magic != layout_magic) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "0x%08x", h->magic);
        throw damaged_store{what + " is not a vauchi-relay store or its creation was interrupted (magic " + buf +
                            "); it was left untouched: move it away to start with a new store"};
    }
    if (h->version != layout_version || h->arena_fingerprint != arena_fingerprint())
        throw damaged_store{what + " has store layout version " + std::to_string(h->version) +
                            ", this binary reads layout version " + std::to_string(layout_version) +
                            (h->version == layout_version ? " (its record format differs)" : "") +
                            "; it was left untouched: start the relay version that wrote it, or move it away"};
    if (h->identity_crc != identity_crc(*h))
        throw damaged_store{what +
                            ": its header fails its checksum and so does the copy of it (the first 64 KiB of "
                            "the file are damaged); it was left untouched: restore it from a backup or move it away"};
    if (!is_pow2_in(h->shard_count, 1, 4096))
        throw damaged_store{field_error(what, "shard_count", h->shard_count, "expected a power of two from 1 to 4096")};
    if (h->arena_offset != page_size)
        throw damaged_store{
            field_error(what, "arena_offset", h->arena_offset, "expected " + std::to_string(page_size))};
    std::uint64_t const max_pages = (size - page_size) / page_size;
    if (h->page_count < 1 || h->page_count > max_pages)
        throw damaged_store{field_error(what, "page_count", h->page_count,
                                        "but the file holds room for " + std::to_string(max_pages) + " pages")};
    if (h->arena_bytes != std::uint64_t{h->page_count} * page_size)
        throw damaged_store{field_error(what, "arena_bytes", h->arena_bytes, "disagreeing with page_count")};
}

/// A header whose identity fails its checksum is restored from the copy,
/// when the copy holds (logged by the caller). Returns whether it was.
bool restore_header_from_copy(std::uint8_t* base, std::uint64_t size)
{
    if (size < page_size)
        return false;
    auto const& h = *reinterpret_cast<store_header const*>(base);
    auto const& copy = *reinterpret_cast<store_header const*>(base + header_copy_offset);
    if (h.identity_crc == identity_crc(h) || copy.magic != layout_magic || copy.identity_crc != identity_crc(copy))
        return false;
    // Only the identity: the rest of the header is state, or checked against
    // the file on its own.
    auto& live = *reinterpret_cast<store_header*>(base);
    live.magic = copy.magic;
    live.version = copy.version;
    live.arena_fingerprint = copy.arena_fingerprint;
    live.created_unix = copy.created_unix;
    live.epoch_unix = copy.epoch_unix;
    live.hash_seed = copy.hash_seed;
    live.crc_seed = copy.crc_seed;
    live.shard_count = copy.shard_count;
    live.page_count = copy.page_count;
    live.arena_offset = copy.arena_offset;
    live.arena_bytes = copy.arena_bytes;
    live.identity_crc = copy.identity_crc;
    return true;
}

/// The tail as recorded: its shape bounded and every offset where the shape
/// puts it, the whole inside the file. Empty if it holds, else why not.
std::string tail_problem(std::uint8_t const* base, std::uint64_t size, std::string const& what)
{
    auto const* h = reinterpret_cast<store_header const*>(base);
    if (h->tail_fingerprint != tail_fingerprint())
        return what + ": its soft state was laid out by another binary (tail fingerprint differs)";
    if (!is_pow2_in(h->rate_table_entries, 1, 1u << 26))
        return field_error(what, "rate_table_entries", h->rate_table_entries, "expected a power of two up to 2^26");
    if (!is_pow2_in(h->presence_capacity, 1, 1u << 24))
        return field_error(what, "presence_capacity", h->presence_capacity, "expected a power of two up to 2^24");
    if (!is_pow2_in(h->buckets_per_shard, 1, 1u << 28))
        return field_error(what, "buckets_per_shard", h->buckets_per_shard, "expected a power of two up to 2^28");
    tail_offsets const o = compute(shape_of(*h));
    struct {
        char const* name;
        std::uint64_t have, want;
    } const fields[] = {
        {"tail_offset", h->tail_offset, o.tail},
        {"slots_offset", h->slots_offset, o.slots},
        {"rate_offset", h->rate_offset, o.rate},
        {"nonces_offset", h->nonces_offset, o.nonces},
        {"addresses_offset", h->addresses_offset, o.addresses},
        {"rings_offset", h->rings_offset, o.rings},
        {"pool_offset", h->pool_offset, o.pool},
        {"descs_offset", h->descs_offset, o.descs},
        {"shards_offset", h->shards_offset, o.shards},
        {"buckets_offset", h->buckets_offset, o.buckets},
        {"presence_offset", h->presence_offset, o.presence},
        {"total_size", h->total_size, o.total},
    };
    for (auto const& f : fields)
        if (f.have != f.want)
            return field_error(what, f.name, f.have, "expected " + std::to_string(f.want));
    if (o.total != size)
        return what + " is " + std::to_string(size) + " bytes but its header says " + std::to_string(o.total) +
            "; it looks truncated or its last change was interrupted";
    // The per-shard fields in the tail place memory too.
    auto const* shards = reinterpret_cast<shard_header const*>(base + o.shards);
    for (std::uint32_t i = 0; i < h->shard_count; ++i) {
        shard_header const& s = shards[i];
        if (s.index != i || s.buckets != h->buckets_per_shard ||
            s.buckets_offset != o.buckets + 8 * std::uint64_t{h->buckets_per_shard} * i)
            return field_error(what, "shard_header", i, "placed where the header does not put it");
    }
    return {};
}

std::string errno_text() { return std::strerror(errno); }

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

/// Bytes of the open file `fd` that have blocks.
std::uint64_t allocated_bytes(int fd)
{
    struct stat st {};
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

/// Reads the version of an existing store file without mapping all of it.
std::uint32_t version_of(std::string const& path, std::uint32_t& magic)
{
    store_header h{};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw open_error{"cannot open store " + path + ": " + errno_text()};
    ssize_t const n = ::pread(fd, &h, sizeof h, 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(sizeof h)) {
        magic = 0;
        return 0;
    }
    magic = h.magic;
    return h.version;
}

/// Grows the arena of the open store file `fd` from the header's page count
/// to `pages` and lays the tail out after it. Crash-safe: until the header
/// records the new page count, the next open sees the old arena and a tail
/// to lay out again, and grows once more.
void grow_file(int fd, std::string const& path, std::uint32_t pages, geometry const& g, backing policy)
{
    store_header h{};
    if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
        throw open_error{"cannot read the header of " + path + ": " + errno_text()};
    std::uint64_t const old_arena_end = page_size + std::uint64_t{h.page_count} * page_size;
    geometry kept = g;
    kept.shard_count = h.shard_count; // fixed at creation
    std::uint64_t const new_size = compute(shape_of(kept, pages)).total;
    if (::ftruncate(fd, static_cast<off_t>(new_size)) != 0)
        throw open_error{"cannot grow store " + path + " to " + std::to_string(new_size) + " bytes: " + errno_text() +
                         " (free disk space in RELAY_DATA_DIR or lower RELAY_MAX_STORAGE_BYTES back)"};
    if (policy == backing::reserved) {
        auto const r = reserve_space(fd, new_size);
        if (!r.reserved() && !r.unsupported())
            throw shortfall(path, new_size - std::min<std::uint64_t>(allocated_bytes(fd), new_size), r.error,
                            "Free disk space in RELAY_DATA_DIR, or set RELAY_MAX_STORAGE_BYTES back to " +
                                std::to_string(h.arena_bytes) + " to keep the store's size");
    }
    // The old tail lies where the new pages start: clear it, so that none of
    // its bytes is ever read as a page's identity.
    bip::file_mapping fm(path.c_str(), bip::read_write);
    bip::mapped_region region(fm, bip::read_write, static_cast<bip::offset_t>(0), 0);
    auto* base = static_cast<std::uint8_t*>(region.get_address());
    std::uint64_t const old_tail_end = std::min<std::uint64_t>(h.total_size, new_size);
    if (old_tail_end > old_arena_end)
        std::memset(base + old_arena_end, 0, old_tail_end - old_arena_end);
    region.flush(0, 0, false);
    auto& live = *reinterpret_cast<store_header*>(base);
    live.page_count = pages;
    live.arena_bytes = std::uint64_t{pages} * page_size;
    seal_identity(base);
    lay_out_tail(base, shape_of(kept, pages));
    region.flush(0, 0, false);
}

} // namespace

std::uint64_t segment_size(geometry const& g) { return compute(shape_of(g, pages_for(g.arena_bytes))).total; }

void format(std::uint8_t* base, std::uint64_t size, geometry const& g)
{
    auto* h = new (base) store_header{};
    h->version = layout_version;
    h->arena_fingerprint = arena_fingerprint();
    h->created_unix = static_cast<std::uint64_t>(std::time(nullptr));
    h->epoch_unix = h->created_unix;
    h->hash_seed = random::u64() | 1;
    h->crc_seed = random::u64();
    h->shard_count = g.shard_count;
    h->page_count = pages_for(g.arena_bytes);
    h->arena_offset = page_size;
    h->arena_bytes = std::uint64_t{h->page_count} * page_size;
    lay_out_tail(base, shape_of(g, h->page_count), true);
    (void)size;
    h->clean_shutdown.store(1);
    // The stamp goes last: a store whose creation was interrupted has no magic
    // and is refused at the next start instead of being half-trusted (the
    // copy of the header, written first, counts only with a sealed primary).
    h->magic = layout_magic;
    seal_identity(base);
    h->magic = 0;
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = layout_magic;
}

void validate(std::uint8_t const* base, std::uint64_t size, std::string const& what)
{
    validate_arena(base, size, what);
    if (std::string const why = tail_problem(base, size, what); !why.empty())
        throw damaged_store{why};
}

bool check_in_place(std::uint8_t* base, std::uint64_t size, geometry const& g, std::string const& what)
{
    restore_header_from_copy(base, size);
    validate_arena(base, size, what);
    if (tail_problem(base, size, what).empty())
        return false;
    auto const& h = *reinterpret_cast<store_header const*>(base);
    geometry kept = g;
    kept.shard_count = h.shard_count;
    tail_shape const shape = shape_of(kept, h.page_count);
    if (compute(shape).total != size)
        throw damaged_store{what + ": its soft state does not fit the file and cannot be laid out again in place"};
    lay_out_tail(base, shape);
    return true;
}

segment segment::open_or_create_file(std::string const& path, geometry const& g, open_report& report, backing policy)
{
    report = open_report{};
    bool reserved = false;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            throw open_error{"cannot stat store " + path + ": " + errno_text()};
        reserved = create_file_store(path, g, policy);
        report.created = true;
    } else {
        std::uint32_t magic = 0;
        if (version_of(path, magic) == legacy_layout_version && magic == layout_magic)
            throw legacy_store_found{path};
    }
    std::string const what = "store file " + path;
    try {
        if (!report.created) {
            // Grow, or lay the tail out again, before mapping it for good.
            bip::file_mapping fm(path.c_str(), bip::read_write);
            std::uint32_t pages = 0;
            bool relay_tail = false;
            {
                bip::mapped_region region(fm, bip::read_write);
                auto* base = static_cast<std::uint8_t*>(region.get_address());
                report.header_restored = restore_header_from_copy(base, region.get_size());
                validate_arena(base, region.get_size(), what);
                auto const& h = *reinterpret_cast<store_header const*>(base);
                pages = h.page_count;
                std::uint32_t const wanted = pages_for(g.arena_bytes);
                if (wanted < pages)
                    throw open_error{what + " holds " + std::to_string(h.arena_bytes) +
                                     " bytes of capacity and "
                                     "RELAY_MAX_STORAGE_BYTES asks for " +
                                     std::to_string(g.arena_bytes) +
                                     ": a store never shrinks in place. Set RELAY_MAX_STORAGE_BYTES to at least " +
                                     std::to_string(h.arena_bytes) +
                                     ", or stop, --export, move the store away "
                                     "and --import into a smaller one"};
                if (wanted > pages) {
                    report.grown_from_pages = pages;
                    pages = wanted;
                } else if (!tail_problem(base, region.get_size(), what).empty() ||
                           h.rate_table_entries != g.rate_table_entries || h.presence_capacity != g.presence_capacity) {
                    // The shard count is fixed at creation; everything else
                    // about the tail follows the configuration.
                    relay_tail = true;
                }
            }
            if (report.grown_from_pages != 0) {
                grow_file(fm.get_mapping_handle().handle, path, pages, g, policy);
                report.tail_relaid = true;
            } else if (relay_tail) {
                bip::mapped_region region(fm, bip::read_write);
                auto* base = static_cast<std::uint8_t*>(region.get_address());
                geometry kept = g;
                kept.shard_count = reinterpret_cast<store_header const*>(base)->shard_count;
                std::uint64_t const size = compute(shape_of(kept, pages)).total;
                if (size != region.get_size()) {
                    if (::ftruncate(fm.get_mapping_handle().handle, static_cast<off_t>(size)) != 0)
                        throw open_error{"cannot resize the soft state of " + path + ": " + errno_text()};
                    bip::mapped_region resized(fm, bip::read_write);
                    lay_out_tail(static_cast<std::uint8_t*>(resized.get_address()), shape_of(kept, pages));
                    resized.flush(0, 0, false);
                } else {
                    lay_out_tail(base, shape_of(kept, pages));
                    region.flush(0, 0, false);
                }
                report.tail_relaid = true;
            }
        }
        bip::file_mapping fm(path.c_str(), bip::read_write);
        bip::mapped_region region(fm, bip::read_write);
        validate(static_cast<std::uint8_t const*>(region.get_address()), region.get_size(), what);
        if (policy == backing::reserved && !report.created) {
            // A store written by an earlier version, or copied, may be sparse.
            int const fd = fm.get_mapping_handle().handle;
            auto const r = reserve_space(fd, region.get_size());
            if (!r.reserved() && !r.unsupported())
                // What the failed attempt allocated stays: the store keeps it.
                throw shortfall(
                    path, region.get_size() - std::min<std::uint64_t>(allocated_bytes(fd), region.get_size()), r.error,
                    "Free disk space in RELAY_DATA_DIR; the store keeps its size (to start with a "
                    "smaller one, stop the relay, --export, move the store away and --import)");
            reserved = r.reserved();
        }
        segment seg(std::move(region));
        seg.space_reserved_ = reserved;
        return seg;
    } catch (bip::interprocess_exception const& e) {
        throw open_error{"cannot map store file " + path + ": " + e.what()};
    }
}

segment segment::open_existing_file(std::string const& path)
{
    std::uint32_t magic = 0;
    if (version_of(path, magic) == legacy_layout_version && magic == layout_magic)
        throw open_error{"store file " + path +
                         " has layout version 2 (a release before Store v2): start the relay "
                         "once to migrate it"};
    try {
        bip::file_mapping fm(path.c_str(), bip::read_write);
        bip::mapped_region region(fm, bip::read_write);
        validate(static_cast<std::uint8_t const*>(region.get_address()), region.get_size(), "store file " + path);
        return segment(std::move(region));
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
        struct stat st {};
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
