#include "supervisor/store_migration.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/log.hpp"
#include "shm/legacy_layout2.hpp"
#include "shm/store.hpp"
#include "supervisor/systemd_notify.hpp"

namespace bip = boost::interprocess;

namespace relay::supervisor {
namespace {

void sync_directory_of(std::string const& path)
{
    std::string const dir = std::filesystem::path(path).parent_path().string();
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

} // namespace

void migrate_layout2_store(std::string const& path, shm::geometry const& g, shm::backing policy)
{
    std::string const fresh = path + ".layout3";
    std::string const kept = path + ".layout2";
    RELAY_LOG_WARN("store file %s has layout version 2 (a release before Store v2): migrating its records into a "
                   "new store; the old file is kept as %s",
                   path.c_str(), kept.c_str());
    auto const started = std::chrono::steady_clock::now();
    auto last_report = started;
    std::uint64_t copied = 0, bytes = 0;
    shm::legacy2::read_stats read{};
    {
        bip::file_mapping old_file(path.c_str(), bip::read_only);
        bip::mapped_region old_region(old_file, bip::read_only);
        std::filesystem::remove(fresh); // a migration interrupted earlier starts over
        shm::open_report report;
        shm::segment seg = shm::segment::open_or_create_file(fresh, g, report, policy);
        shm::store st(seg.base());
        st.reinit_locks();
        read = shm::legacy2::read_records(
            static_cast<std::uint8_t const*>(old_region.get_address()), old_region.get_size(),
            [&](shm::stored_record const& r) {
                if (st.import_record(r) != shm::put_status::stored) {
                    std::filesystem::remove(fresh);
                    throw shm::open_error{"migrating " + path + ": the new store is full after " +
                                          std::to_string(copied) + " records (" + std::to_string(bytes >> 20) +
                                          " MiB); raise RELAY_MAX_STORAGE_BYTES above the old store's " +
                                          std::to_string(old_region.get_size() >> 20) +
                                          " MiB and start again (the old store is untouched)"};
                }
                ++copied;
                bytes += r.data.size();
            },
            [&](std::uint32_t done, std::uint32_t total) {
                auto const now = std::chrono::steady_clock::now();
                if (now - last_report > std::chrono::seconds(2) || done == total) {
                    RELAY_LOG_INFO("store migration: %u/%u shards, %llu records (%llu MiB)", done, total,
                                   static_cast<unsigned long long>(copied),
                                   static_cast<unsigned long long>(bytes >> 20));
                    notify_systemd("EXTEND_TIMEOUT_USEC=30000000\nSTATUS=migrating the store: " + std::to_string(done) +
                                   "/" + std::to_string(total) + " shards");
                    last_report = now;
                }
            });
        if (auto const checked = st.check_all(shm::verify_depth::checksums); !checked.consistent) {
            std::filesystem::remove(fresh);
            throw shm::open_error{"migrating " + path + ": the new store failed verification (" + checked.problem +
                                  "); the old store is untouched"};
        }
        st.header().clean_shutdown.store(1);
        // On disk before the old file is renamed away.
        if (::msync(seg.base(), seg.size(), MS_SYNC) != 0)
            throw shm::open_error{"migrating " + path +
                                  ": cannot write the new store to disk: " + std::strerror(errno)};
    }
    // The old file stays under its new name (a hard link, then the new store
    // replaces the name in one rename): at every instant `path` is a whole
    // store, the old or the new one.
    std::filesystem::remove(kept);
    if (::link(path.c_str(), kept.c_str()) != 0)
        throw shm::open_error{"migrating " + path + ": cannot keep the old store as " + kept + ": " +
                              std::strerror(errno)};
    if (::rename(fresh.c_str(), path.c_str()) != 0)
        throw shm::open_error{"migrating " + path + ": cannot rename " + fresh + ": " + std::strerror(errno)};
    sync_directory_of(path);
    auto const ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    RELAY_LOG_WARN("store migrated to layout version %u in %lld ms: %llu records (%llu bytes) carried over, %llu that "
                   "did not read back in the old store left behind; the old store is %s (delete it once the relay "
                   "runs as it should)",
                   shm::layout_version, static_cast<long long>(ms), static_cast<unsigned long long>(copied),
                   static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(read.dropped), kept.c_str());
}

} // namespace relay::supervisor
