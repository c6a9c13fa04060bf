#include "supervisor/store_transfer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/exit_codes.hpp"
#include "shm/legacy_layout2.hpp"
#include "shm/record_file.hpp"
#include "shm/segment.hpp"
#include "shm/store.hpp"
#include "supervisor/store_bootstrap.hpp"

namespace bip = boost::interprocess;

namespace relay::supervisor {
namespace {

/// The data directory's lock, if no relay holds it (-1 otherwise).
int try_lock_data_dir(config const& cfg)
{
    int fd = ::open((cfg.data_dir + "/relay.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint32_t layout_version_of(std::string const& path)
{
    shm::store_header h{};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    bool const ok = ::pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
    ::close(fd);
    return ok && h.magic == shm::layout_magic ? h.version : 0;
}

void report(char const* what, shm::record_file_writer const& out, std::string const& file)
{
    std::printf("%s: %llu records (%llu data bytes) written to %s\n", what,
                static_cast<unsigned long long>(out.records()), static_cast<unsigned long long>(out.data_bytes()),
                file.c_str());
}

} // namespace

int export_store(config const& cfg, std::string const& file)
{
    std::string const path = cfg.data_dir + "/store";
    if (!std::filesystem::exists(path)) {
        std::fprintf(stderr, "vauchi-relay: no store at %s (set --data-dir)\n", path.c_str());
        return exit_code::fatal;
    }
    try {
        int const lock = try_lock_data_dir(cfg);
        bool const running = lock < 0;
        shm::record_file_writer out(file);
        auto const sink = [&out](shm::stored_record const& r) { out.write(r); };
        if (layout_version_of(path) == shm::legacy_layout_version) {
            if (running)
                throw shm::open_error{"a relay runs on the layout-2 store " + path + ": stop it first"};
            bip::file_mapping fm(path.c_str(), bip::read_only);
            bip::mapped_region region(fm, bip::read_only);
            shm::legacy2::read_records(static_cast<std::uint8_t const*>(region.get_address()), region.get_size(), sink);
        } else if (running) {
            // One consistent snapshot of the live store, under its locks.
            shm::segment seg = shm::segment::open_existing_file(path);
            shm::store(seg.base()).for_each_record(sink);
        } else {
            // Nobody runs on it: recover a private copy as a start would
            // (after a crash or power cut the derived state cannot be
            // trusted), never writing the file.
            bip::file_mapping fm(path.c_str(), bip::read_only);
            bip::mapped_region region(fm, bip::copy_on_write);
            auto* base = static_cast<std::uint8_t*>(region.get_address());
            shm::check_in_place(base, region.get_size(), geometry_for(cfg), "store file " + path);
            shm::store st(base);
            st.recover_unshared({});
            st.for_each_record(sink);
        }
        out.finish();
        if (lock >= 0)
            ::close(lock);
        report(running ? "export (snapshot of the running relay)" : "export", out, file);
        return exit_code::ok;
    } catch (shm::damaged_store const& e) {
        std::fprintf(stderr, "vauchi-relay: %s\n", e.message.c_str());
        return exit_code::store_poisoned;
    } catch (shm::open_error const& e) {
        std::fprintf(stderr, "vauchi-relay: %s\n", e.message.c_str());
    } catch (shm::record_file_error const& e) {
        std::fprintf(stderr, "vauchi-relay: %s\n", e.message.c_str());
    } catch (bip::interprocess_exception const& e) {
        std::fprintf(stderr, "vauchi-relay: cannot map %s: %s\n", path.c_str(), e.what());
    }
    return exit_code::fatal;
}

int import_store(config const& cfg, std::string const& file)
{
    std::string const path = cfg.data_dir + "/store";
    std::filesystem::create_directories(cfg.data_dir);
    int const lock = try_lock_data_dir(cfg);
    if (lock < 0) {
        std::fprintf(stderr, "vauchi-relay: a relay runs on %s: stop it before importing\n", cfg.data_dir.c_str());
        return exit_code::fatal;
    }
    if (std::filesystem::exists(path)) {
        std::fprintf(stderr, "vauchi-relay: %s exists: --import loads into a new store; move it away first\n",
                     path.c_str());
        ::close(lock);
        return exit_code::fatal;
    }
    try {
        shm::record_file_reader in(file);
        shm::open_report opened;
        shm::segment seg = shm::segment::open_or_create_file(path, geometry_for(cfg), opened, shm::backing::reserved);
        shm::store st(seg.base());
        std::uint64_t records = 0, bytes = 0;
        shm::stored_record r;
        try {
            while (in.next(r)) {
                if (st.import_record(r) != shm::put_status::stored)
                    throw shm::open_error{"the new store is full after " + std::to_string(records) + " records (" +
                                          std::to_string(bytes >> 20) +
                                          " MiB): raise RELAY_MAX_STORAGE_BYTES and "
                                          "import again"};
                ++records;
                bytes += r.data.size();
            }
            if (auto const checked = st.check_all(shm::verify_depth::checksums); !checked.consistent)
                throw shm::open_error{"the imported store failed verification (" + checked.problem + ")"};
        } catch (...) {
            std::filesystem::remove(path); // never leave half an import as a store
            throw;
        }
        st.header().clean_shutdown.store(1);
        ::msync(seg.base(), seg.size(), MS_SYNC);
        std::printf("import: %llu records (%llu data bytes) loaded from %s into %s\n",
                    static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes), file.c_str(),
                    path.c_str());
        ::close(lock);
        return exit_code::ok;
    } catch (shm::open_error const& e) {
        std::fprintf(stderr, "vauchi-relay: cannot import: %s\n", e.message.c_str());
    } catch (shm::record_file_error const& e) {
        std::fprintf(stderr, "vauchi-relay: cannot import: %s\n", e.message.c_str());
    }
    ::close(lock);
    return exit_code::fatal;
}

} // namespace relay::supervisor
