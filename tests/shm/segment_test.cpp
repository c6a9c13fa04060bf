#include "shm/segment.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;
namespace bip = boost::interprocess;

BOOST_AUTO_TEST_SUITE(segment_suite)

BOOST_AUTO_TEST_CASE(a_second_mapping_at_another_address_sees_the_same_store)
{
    // docs/architecture.md#design-2-7: no raw pointers in the segment. Map the same object again
    // (necessarily at another address) and use the store through it.
    scratch_store s;
    auto const data = bytes_of(70000, 5);
    auto const r = s.st.put(request(key('a'), data));
    bip::shared_memory_object shm(bip::open_only, s.name.c_str(), bip::read_write);
    bip::mapped_region second(shm, bip::read_write);
    BOOST_TEST_REQUIRE(second.get_address() != static_cast<void*>(s.seg.base()));
    store other(static_cast<std::uint8_t*>(second.get_address()));
    auto const att = other.attach(key('a'), 1);
    BOOST_TEST_REQUIRE(att.pending.size() == 1u);
    auto const d = other.fetch(att.pending[0], key('a'));
    BOOST_TEST_REQUIRE(d.has_value());
    BOOST_TEST((d->data == data));
    BOOST_TEST(other.remove(key('a'), r.blob_id).removed);
    BOOST_TEST(s.st.pending_count(key('a')) == 0u);
    BOOST_TEST(verified(s.st));
}

BOOST_AUTO_TEST_CASE(file_store_is_created_reopened_and_refused_when_foreign)
{
    auto const dir = std::filesystem::temp_directory_path() / ("vauchi-seg-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string const path = (dir / "store").string();
    auto const g = small_geometry();
    open_report report;
    {
        auto seg = segment::open_or_create_file(path, g, report);
        BOOST_TEST(report.created);
        store st(seg.base());
        st.reinit_locks();
        auto const data = bytes_of(10, 1);
        st.put(request(key('b'), data));
    }
    {
        auto seg = segment::open_or_create_file(path, g, report);
        BOOST_TEST(!report.created);
        store st(seg.base());
        st.reinit_locks();
        BOOST_TEST(st.pending_count(key('b')) == 1u);
    }
    // A damaged magic alone is restored from the header's copy.
    {
        FILE* f = std::fopen(path.c_str(), "r+b");
        std::uint32_t const bogus = 0x12345678;
        std::fwrite(&bogus, sizeof bogus, 1, f);
        std::fclose(f);
        auto seg = segment::open_or_create_file(path, g, report);
        BOOST_TEST(report.header_restored);
        BOOST_TEST(seg.header().magic == layout_magic);
    }
    // A file whose first page is foreign, copy included, is refused and left as it was.
    {
        FILE* f = std::fopen(path.c_str(), "r+b");
        std::vector<std::uint8_t> const bogus(page_size, 0x5a);
        std::fwrite(bogus.data(), 1, bogus.size(), f);
        std::fclose(f);
    }
    auto const size_before = std::filesystem::file_size(path);
    try {
        segment::open_or_create_file(path, g, report);
        BOOST_FAIL("a foreign file was accepted");
    } catch (open_error const& e) {
        BOOST_TEST(e.message.find("not a vauchi-relay store") != std::string::npos);
    }
    BOOST_TEST(std::filesystem::file_size(path) == size_before);
    std::filesystem::remove_all(dir);
}

namespace {

/// Bytes of `path` that have blocks in its filesystem.
std::uint64_t allocated_bytes(std::string const& path)
{
    struct stat st {};
    BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_reserved_file_store_is_allocated_in_full_and_reallocated_when_reopened_sparse)
{
    auto const dir = std::filesystem::temp_directory_path() / ("vauchi-seg-space-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir); // a run that failed halfway with the same pid
    std::filesystem::create_directories(dir);
    struct remove_at_end {
        std::filesystem::path dir;
        ~remove_at_end()
        {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } cleanup{dir};
    std::string const path = (dir / "store").string();
    auto const g = small_geometry();
    open_report report;
    std::uint64_t size = 0;
    {
        auto seg = segment::open_or_create_file(path, g, report, backing::reserved);
        BOOST_TEST(report.created);
        BOOST_TEST(seg.space_reserved());
        size = seg.size();
    }
    BOOST_TEST(allocated_bytes(path) >= size);
    // A store written sparse (by an earlier version, or copied) gets its holes
    // allocated when it is opened; a lazy open leaves them.
    int fd = ::open(path.c_str(), O_RDWR);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size / 2),
                              static_cast<off_t>(size / 4)) == 0);
    ::close(fd);
    BOOST_REQUIRE(allocated_bytes(path) < size);
    {
        auto seg = segment::open_or_create_file(path, g, report, backing::lazy);
        BOOST_TEST(!seg.space_reserved());
    }
    BOOST_TEST(allocated_bytes(path) < size);
    {
        auto seg = segment::open_or_create_file(path, g, report, backing::reserved);
        BOOST_TEST(!report.created);
        BOOST_TEST(seg.space_reserved());
    }
    BOOST_TEST(allocated_bytes(path) >= size);
}

BOOST_AUTO_TEST_CASE(a_memory_store_is_allocated_in_full)
{
    std::string const name = "vauchi-seg-space-" + std::to_string(::getpid());
    auto seg = segment::create_memory(name, small_geometry());
    struct remove_at_end {
        std::string name;
        ~remove_at_end() { segment::remove_memory(name); }
    } cleanup{name};
    BOOST_TEST(seg.space_reserved());
    BOOST_TEST(allocated_bytes("/dev/shm/" + name) >= seg.size());
}

BOOST_AUTO_TEST_SUITE_END()
