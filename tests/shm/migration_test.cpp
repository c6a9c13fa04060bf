// The layout-2 reader on a real store written by the last release before
// Store v2 (tests/data/layout2), and the records it yields put into a
// layout-3 store with their identity (docs/store.md, "Upgrades from layout 2").

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "layout2_manifest.hpp"
#include "shm/legacy_layout2.hpp"
#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;
namespace bip = boost::interprocess;

namespace {

std::string const data_dir = VAUCHI_TEST_DATA_DIR "/layout2";

/// The image, unpacked into a temporary file for this test.
struct unpacked_image {
    unpacked_image()
        : path((std::filesystem::temp_directory_path() / ("vauchi-layout2-" + std::to_string(::getpid()))).string())
    {
        std::string const cmd = "gzip -dc '" + data_dir + "/store.gz' > '" + path + "'";
        BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
    }
    ~unpacked_image() { std::filesystem::remove(path); }
    std::string path;
};

bool same(stored_record const& a, stored_record const& b)
{
    return a.kind == b.kind && a.key == b.key && a.sender == b.sender && a.sender_message_id == b.sender_message_id &&
        a.blob_id == b.blob_id && a.created_unix == b.created_unix && a.delivered_sent == b.delivered_sent &&
        a.data == b.data;
}

} // namespace

BOOST_AUTO_TEST_SUITE(layout2_migration)

BOOST_AUTO_TEST_CASE(every_record_of_a_real_layout2_store_is_read_and_put_back_with_its_identity)
{
    auto const expected = relay::testing::layout2_manifest(data_dir + "/manifest.txt");
    BOOST_TEST_REQUIRE(expected.size() == 61u);
    unpacked_image image;
    bip::file_mapping file(image.path.c_str(), bip::read_only);
    bip::mapped_region region(file, bip::read_only);

    scratch_store s(small_geometry(32u << 20, 4));
    std::vector<stored_record> read;
    auto const stats = legacy2::read_records(
        static_cast<std::uint8_t const*>(region.get_address()), region.get_size(), [&](stored_record const& r) {
            read.push_back(r);
            BOOST_TEST_REQUIRE(static_cast<int>(s.st.import_record(r)) == static_cast<int>(put_status::stored));
        });
    BOOST_TEST(stats.records == 61u);
    BOOST_TEST(stats.dropped == 0u);
    BOOST_TEST(verified(s.st, verify_depth::checksums));

    std::vector<stored_record> exported;
    s.st.for_each_record([&](stored_record const& r) { exported.push_back(r); });
    BOOST_TEST_REQUIRE(exported.size() == expected.size());
    for (auto const& want : expected) {
        auto const in = [&](std::vector<stored_record> const& v) {
            return std::count_if(v.begin(), v.end(), [&](stored_record const& r) { return same(r, want); });
        };
        BOOST_TEST(in(read) == 1, "read from layout 2: " << want.key);
        BOOST_TEST(in(exported) == 1, "in the new store: " << want.key);
    }
    // Each mailbox keeps its order (the manifest lists records as they were stored).
    for (auto const& want : expected) {
        if (want.kind != blob_kind::update)
            continue;
        std::vector<relay::random::uuid> wanted, got;
        for (auto const& r : expected)
            if (r.kind == blob_kind::update && r.key == want.key)
                wanted.push_back(r.blob_id);
        for (auto const& r : exported)
            if (r.kind == blob_kind::update && r.key == want.key)
                got.push_back(r.blob_id);
        BOOST_TEST((wanted == got));
    }
}

BOOST_AUTO_TEST_CASE(a_damaged_layout2_header_is_refused_with_advice_not_a_crash)
{
    unpacked_image image;
    bip::file_mapping file(image.path.c_str(), bip::read_write);
    bip::mapped_region region(file, bip::read_write);
    auto* base = static_cast<std::uint8_t*>(region.get_address());
    std::uint32_t const shards = 1u << 30;
    std::memcpy(base + 48, &shards, 4); // shard_count
    BOOST_CHECK_EXCEPTION(legacy2::read_records(base, region.get_size(), [](stored_record const&) {}), open_error,
                          [](open_error const& e) { return e.message.find("left untouched") != std::string::npos; });
}

BOOST_AUTO_TEST_SUITE_END()
