// The store is reserved in full when the relay starts (shm/space_reservation.hpp):
// a filesystem too small for it stops the start with advice, and once running,
// a filesystem that fills up cannot stop a worker (unreserved, the first write
// to a page the filesystem cannot back kills the worker with SIGBUS, and every
// respawned worker with it).
//
// The small filesystems are tmpfs mounts, which need root (as in CI); elsewhere
// those cases are reported as skipped.

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;

namespace {

constexpr std::uint64_t mib = 1 << 20;

/// A tmpfs of `size_mib` at DIR/data, unmounted and removed again at the end.
class small_data_dir {
public:
    explicit small_data_dir(unsigned size_mib)
    {
        char tmpl[] = "/tmp/vauchi-relay-space-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        std::filesystem::create_directories(data());
        std::string const opts = "size=" + std::to_string(size_mib) + "m,mode=0700";
        mounted_ = ::mount("tmpfs", data().c_str(), "tmpfs", 0, opts.c_str()) == 0;
    }
    ~small_data_dir()
    {
        if (mounted_)
            ::umount2(data().c_str(), MNT_DETACH);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    small_data_dir(small_data_dir const&) = delete;
    small_data_dir& operator=(small_data_dir const&) = delete;

    bool mounted() const { return mounted_; }
    std::string const& dir() const { return dir_; }
    std::string data() const { return dir_ + "/data"; }

    /// Writes a filler file until the filesystem refuses more; returns its bytes.
    std::uint64_t fill()
    {
        std::FILE* f = std::fopen((data() + "/filler").c_str(), "wb");
        if (f == nullptr)
            return 0;
        std::string const block(64 * 1024, 'f');
        std::uint64_t written = 0;
        while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0)
            written += block.size();
        std::fclose(f);
        return written;
    }

private:
    std::string dir_;
    bool mounted_ = false;
};

boost::test_tools::assertion_result tmpfs_can_be_mounted(boost::unit_test::test_unit_id)
{
    small_data_dir probe(1);
    boost::test_tools::assertion_result r(probe.mounted());
    if (!probe.mounted())
        r.message() << "mounting a tmpfs failed (" << std::strerror(errno) << "); these cases need root";
    return r;
}

relay_options on(small_data_dir const& d, std::uint64_t store_bytes)
{
    relay_options o =
        with_env({{"RELAY_MAX_STORAGE_BYTES", std::to_string(store_bytes)}, {"RELAY_RATE_LIMIT", "100000"}});
    o.workers = 2;
    o.data_dir = d.dir();
    return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_space)

BOOST_AUTO_TEST_CASE(the_store_file_is_allocated_in_full_when_the_relay_starts)
{
    relay_process relay;
    struct stat st {};
    BOOST_REQUIRE(::stat((relay.data_dir() + "/data/store").c_str(), &st) == 0);
    // Before the reservation the file was sparse: only the pages formatting
    // wrote had blocks (a few MiB of 98).
    BOOST_TEST(static_cast<std::uint64_t>(st.st_blocks) * 512 >= static_cast<std::uint64_t>(st.st_size));
    BOOST_TEST(relay.log().find("store space reserved") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_data_directory_too_small_for_the_store_is_refused_at_start,
                     *boost::unit_test::precondition(tmpfs_can_be_mounted))
{
    small_data_dir small(64);
    BOOST_REQUIRE(small.mounted());
    relay_options options = on(small, 64 * mib); // about 97 MiB of store with its tables
    options.expect_ready = false;
    relay_process relay(options);
    int const status = relay.wait_exit();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 2));
    std::string const log = relay.log();
    BOOST_TEST(log.find("cannot reserve store file ") != std::string::npos, log);
    BOOST_TEST(log.find("No space left on device") != std::string::npos);
    BOOST_TEST(log.find("RELAY_MAX_STORAGE_BYTES") != std::string::npos);
    // Nothing is left behind: the next start with a smaller store may succeed.
    BOOST_TEST(!std::filesystem::exists(small.data() + "/store"));
    BOOST_TEST(!std::filesystem::exists(small.data() + "/store.creating"));

    relay_process smaller(on(small, 16 * mib));
    auto s = connect_as(smaller.port(), random_id());
    s->send_binary(update_frame(random_id(), random_bytes(1000), "m"));
    expect_ack(*s, "m", ack_status::stored);
}

BOOST_AUTO_TEST_CASE(a_filesystem_that_fills_up_does_not_stop_the_workers,
                     *boost::unit_test::precondition(tmpfs_can_be_mounted))
{
    small_data_dir small(160);
    BOOST_REQUIRE(small.mounted());
    relay_process relay(on(small, 64 * mib));
    auto const workers_before = relay.worker_pids();
    BOOST_TEST_REQUIRE(small.fill() > 0u); // the rest of the filesystem, up to its last block
    // 18 MB of blobs into pages that were never written: each needs a backed page.
    auto s = connect_as(relay.port(), random_id());
    std::vector<std::uint8_t> const blob = random_bytes(60000);
    for (int i = 0; i < 300; ++i) {
        std::string const id = "f" + std::to_string(i);
        s->send_binary(update_frame(random_id(), blob, id));
        expect_ack(*s, id, ack_status::stored);
    }
    BOOST_TEST(relay.log().find("signal 7") == std::string::npos);
    BOOST_TEST((relay.worker_pids() == workers_before)); // no worker was respawned
}

BOOST_AUTO_TEST_SUITE_END()
