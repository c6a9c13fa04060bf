#include "supervisor/store_bootstrap.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/notify_ring.hpp"
#include "shm/prefault.hpp"
#include "shm/presence_table.hpp"
#include "shm/record_flush.hpp"
#include "supervisor/store_migration.hpp"
#include "supervisor/systemd_notify.hpp"
#include "shm/store.hpp"

namespace relay::supervisor {

identity_scan_file::identity_scan_file(config const& cfg)
{
    if (cfg.backend != storage_backend::file)
        return;
    std::string const path = cfg.data_dir + "/store";
    fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd_ < 0)
        RELAY_LOG_DEBUG("store recovery reads page identities through the mapping (%s cannot be opened with "
                        "O_DIRECT: %s)",
                        path.c_str(), std::strerror(errno));
}

identity_scan_file::~identity_scan_file()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::uint32_t presence_capacity_for(std::uint64_t max_connections)
{
    // One entry per routing id online, so never more than the connections
    // admitted: RELAY_MAX_CONNECTIONS, plus one per worker slot because each
    // worker checks the relay-wide count before it adds its own connection.
    std::uint64_t const most = max_connections + shm::max_worker_slots;
    std::uint64_t capacity = std::bit_ceil(std::max<std::uint64_t>(64, most));
    while (shm::presence_table::usable(static_cast<std::uint32_t>(capacity)) < most)
        capacity *= 2;
    return static_cast<std::uint32_t>(capacity);
}

shm::geometry geometry_for(config const& cfg)
{
    shm::geometry g;
    g.shard_count = cfg.shards;
    g.arena_bytes = cfg.max_storage_bytes;
    g.presence_capacity = presence_capacity_for(cfg.max_connections);
    g.rate_table_entries =
        static_cast<std::uint32_t>(std::bit_ceil(std::max<std::uint64_t>(4096, cfg.max_connections * 8)));
    return g;
}

int lock_data_dir(config const& cfg)
{
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    if (ec)
        throw shm::open_error{"cannot create data directory " + cfg.data_dir + ": " + ec.message() +
                              " (set RELAY_DATA_DIR or --data-dir to a writable directory)"};
    std::string const path = cfg.data_dir + "/relay.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        throw shm::open_error{"cannot open " + path + ": " + std::strerror(errno)};
    // Held by the supervisor and inherited by its children: while any process
    // of this relay lives, no second relay may rebuild or re-lock the store.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        throw shm::open_error{"another vauchi-relay is using " + cfg.data_dir +
                              " (its lock file relay.lock is held): stop it first, or give this one its own "
                              "--data-dir"};
    }
    return fd;
}

namespace {

/// RELAY_STORE_PREFAULT: every page of the store faulted in before the first
/// worker starts (shm/prefault.hpp says why), with progress every 2 s.
void prefault_store(shm::segment const& seg, bool for_writing)
{
    auto const started = std::chrono::steady_clock::now();
    auto last_report = started;
    constexpr std::uint64_t mib = 1 << 20;
    RELAY_LOG_INFO("store prefault (RELAY_STORE_PREFAULT=true): faulting in %llu MiB",
                   static_cast<unsigned long long>(seg.size() / mib));
    bool const ok = shm::prefault(seg.base(), seg.size(), for_writing, [&](std::uint64_t done, std::uint64_t total) {
        auto const now = std::chrono::steady_clock::now();
        if (now - last_report > std::chrono::seconds(2)) {
            RELAY_LOG_INFO("store prefault: %llu/%llu MiB", static_cast<unsigned long long>(done / mib),
                           static_cast<unsigned long long>(total / mib));
            // Long work is not a hung start: systemd's start timeout moves on.
            notify_systemd("EXTEND_TIMEOUT_USEC=30000000\nSTATUS=store prefault: " + std::to_string(done / mib) + "/" +
                           std::to_string(total / mib) + " MiB");
            last_report = now;
        }
    });
    auto const ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    if (ok)
        RELAY_LOG_INFO("store prefault done: %llu MiB in %lld ms", static_cast<unsigned long long>(seg.size() / mib),
                       static_cast<long long>(ms));
    else
        RELAY_LOG_WARN("store prefault stopped after %lld ms (%s): the relay runs, and pages not yet faulted in "
                       "are faulted in on first use; give the machine more RAM than RELAY_MAX_STORAGE_BYTES or "
                       "set RELAY_STORE_PREFAULT=false",
                       static_cast<long long>(ms), std::strerror(errno));
}

} // namespace

shm::segment bootstrap_store(config const& cfg)
{
    shm::segment seg;
    std::string what;
    if (cfg.backend == storage_backend::memory) {
        seg = shm::segment::create_memory(cfg.shm_name, geometry_for(cfg));
        what = "POSIX shared memory " + cfg.shm_name + " (volatile: RELAY_STORAGE_BACKEND=memory)";
        RELAY_LOG_INFO("created store in %s, %llu bytes", what.c_str(), static_cast<unsigned long long>(seg.size()));
    } else {
        // lock_data_dir() created the directory.
        std::string const path = cfg.data_dir + "/store";
        shm::open_report report;
        try {
            seg = shm::segment::open_or_create_file(path, geometry_for(cfg), report, shm::backing::reserved);
        } catch (shm::legacy_store_found const&) {
            migrate_layout2_store(path, geometry_for(cfg), shm::backing::reserved);
            seg = shm::segment::open_or_create_file(path, geometry_for(cfg), report, shm::backing::reserved);
        }
        what = "file " + path;
        RELAY_LOG_INFO("%s store %s, %llu bytes", report.created ? "created" : "opened", what.c_str(),
                       static_cast<unsigned long long>(seg.size()));
        if (report.header_restored)
            RELAY_LOG_ERROR("the header of %s failed its checksum (damaged disk or file) and was restored from its "
                            "copy; check the disk",
                            path.c_str());
        if (report.grown_from_pages != 0)
            RELAY_LOG_INFO("store grown in place from %llu to %llu MiB of capacity (RELAY_MAX_STORAGE_BYTES rose); "
                           "every record kept",
                           static_cast<unsigned long long>(report.grown_from_pages * shm::page_size >> 20),
                           static_cast<unsigned long long>(seg.header().arena_bytes >> 20));
        else if (report.tail_relaid)
            RELAY_LOG_INFO("store soft state laid out again (its shape changed with the configuration or the "
                           "binary): rate-limit buckets and the nonce window start empty; records are kept");
    }
    unsigned long long const store_mib = (seg.size() + (1 << 20) - 1) >> 20;
    if (seg.space_reserved())
        RELAY_LOG_INFO("store space reserved: all %llu MiB of it are allocated, so a full filesystem cannot "
                       "stop a worker (on copy-on-write filesystems such as btrfs it still can: keep space free "
                       "there)",
                       store_mib);
    else if (cfg.backend == storage_backend::memory)
        RELAY_LOG_WARN("the shared memory store is not allocated in full (%llu MiB): if /dev/shm or the memory "
                       "limit runs out, workers that write to it die with SIGBUS; make /dev/shm larger than "
                       "RELAY_MAX_STORAGE_BYTES",
                       store_mib);
    else
        RELAY_LOG_WARN("the filesystem of the data directory cannot allocate ahead (fallocate unsupported): the "
                       "store stays sparse, and if that filesystem fills up, workers that write to it die with "
                       "SIGBUS; keep %llu MiB free there, or put RELAY_DATA_DIR on ext4 or xfs",
                       store_mib);

    shm::store st(seg.base());
    auto& h = st.header();
    if (h.shard_count != cfg.shards)
        RELAY_LOG_WARN("the existing store keeps its own shard count (%u); --shards only applies when a store is "
                       "created",
                       h.shard_count);
    bool const was_clean = h.clean_shutdown.load() == 1;
    if (!was_clean)
        RELAY_LOG_WARN("store was not closed cleanly (crash or SIGKILL): rebuilding every shard from its chunks");

    // Nobody else has the store open yet: everything derived is rebuilt from
    // the records, and nothing but them is trusted (docs/store.md, "Recovery"),
    // so that a crash or a power cut is repaired before the first worker starts.
    auto const started = std::chrono::steady_clock::now();
    auto last_report = started;
    identity_scan_file const scan(cfg);
    auto const rebuilt = st.recover_unshared(
        [&](std::uint32_t done, std::uint32_t total) {
            auto const now = std::chrono::steady_clock::now();
            if (now - last_report > std::chrono::seconds(2) || done == total) {
                RELAY_LOG_INFO("store recovery: %u/%u shards", done, total);
                last_report = now;
            }
        },
        scan.fd());
    if (rebuilt.dropped_total() > 0)
        RELAY_LOG_ERROR(
            "store recovery dropped %llu records that did not read back (%llu failed their checksum, "
            "%llu had a broken chain of chunks): a power cut loses records acknowledged since the last "
            "flush, anything else means damage from outside the relay (disk, another program); "
            "relay_store_records_dropped_total counts them",
            static_cast<unsigned long long>(rebuilt.dropped_total()),
            static_cast<unsigned long long>(rebuilt.dropped[static_cast<std::size_t>(shm::drop_reason::checksum)]),
            static_cast<unsigned long long>(rebuilt.dropped[static_cast<std::size_t>(shm::drop_reason::structure)]));
    if (rebuilt.copies > 0)
        RELAY_LOG_INFO("store recovery: %llu records had a second copy from a compaction in progress; one copy of "
                       "each was kept",
                       static_cast<unsigned long long>(rebuilt.copies));
    if (auto const checked = st.check_all(); !checked.consistent)
        throw shm::damaged_store{what + " failed verification after rebuild (" + checked.problem +
                                 "): keep a copy for analysis and move it away to start with an empty store"};
    h.clean_shutdown.store(0);
    h.opened_count.fetch_add(1);
    // The flushes while serving cover the arena only (shm/record_flush.hpp):
    // the header's identity, which every record's checksum depends on, goes
    // to disk now.
    if (cfg.backend == storage_backend::file)
        if (int const error = shm::flush_header(seg.base()); error != 0)
            throw shm::open_error{what + ": its header could not be written to disk (" + std::strerror(error) +
                                  "); check the disk holding RELAY_DATA_DIR"};
    auto const ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    auto const totals = st.totals();
    RELAY_LOG_INFO("store ready: %llu blobs (%llu bytes) in %u shards, %llu bytes capacity, verified in %lld ms",
                   static_cast<unsigned long long>(rebuilt.kept), static_cast<unsigned long long>(totals.data_bytes),
                   h.shard_count, static_cast<unsigned long long>(h.arena_bytes), static_cast<long long>(ms));
    if (cfg.store_prefault)
        prefault_store(seg, cfg.backend == storage_backend::memory);
    return seg;
}

int check_store(config const& cfg)
{
    std::string const path = cfg.data_dir + "/store";
    struct stat st_buf {};
    if (::stat(path.c_str(), &st_buf) != 0) {
        std::fprintf(stderr, "vauchi-relay: no store at %s (set --data-dir)\n", path.c_str());
        return exit_code::fatal;
    }
    try {
        shm::segment seg = shm::segment::open_existing_file(path);
        shm::store st(seg.base());
        // Every record's checksum too: a damaged record is reported here in
        // the same words as at start, before a delivery would drop it.
        auto const checked = st.check_all(shm::verify_depth::checksums);
        bool const ok = checked.consistent;
        auto const t = st.totals();
        auto const& h = st.header();
        std::printf("store %s: %s; %llu records, %llu data bytes, %llu chunk bytes, %llu of %llu pages free, "
                    "%llu shard repairs so far, records dropped so far: %llu (checksum), %llu (structure)\n",
                    path.c_str(), ok ? "consistent" : ("INCONSISTENT: " + checked.problem).c_str(),
                    static_cast<unsigned long long>(t.blobs), static_cast<unsigned long long>(t.data_bytes),
                    static_cast<unsigned long long>(t.chunk_bytes), static_cast<unsigned long long>(t.free_pages),
                    static_cast<unsigned long long>(t.pages), static_cast<unsigned long long>(t.repairs),
                    static_cast<unsigned long long>(
                        h.records_dropped[static_cast<std::size_t>(shm::drop_reason::checksum)].load()),
                    static_cast<unsigned long long>(
                        h.records_dropped[static_cast<std::size_t>(shm::drop_reason::structure)].load()));
        return ok ? exit_code::ok : exit_code::store_poisoned;
    } catch (shm::open_error const& e) {
        // The store exists but cannot be trusted as it is: the same verdict
        // as a failed verification.
        std::fprintf(stderr, "vauchi-relay: %s\n", e.message.c_str());
        return exit_code::store_poisoned;
    }
}

void close_store(shm::segment& seg, config const& cfg)
{
    if (!seg.valid())
        return;
    shm::store(seg.base()).header().clean_shutdown.store(1);
    seg.flush_async();
    if (cfg.backend == storage_backend::memory)
        shm::segment::remove_memory(cfg.shm_name);
}

} // namespace relay::supervisor
