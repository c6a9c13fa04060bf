// Upgrading a relay whose store was written by a release before Store v2:
// the real binary starts on a real layout-2 store (tests/data/layout2), says
// so, migrates it and delivers every record over WebSocket as it was stored
// (docs/store.md, "Upgrades from layout 2").

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "../shm/layout2_manifest.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::device_sync_message;
using relay::protocol::encrypted_update;

namespace {

std::string const image_dir = VAUCHI_TEST_DATA_DIR "/layout2";

std::string dashless(std::string id)
{
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    return id;
}

std::string hex_of(relay::random::uuid const& id) { return dashless(relay::random::to_string(id)); }

} // namespace

BOOST_AUTO_TEST_SUITE(migration)

BOOST_AUTO_TEST_CASE(a_layout2_store_is_migrated_at_start_and_every_record_is_delivered)
{
    auto const expected = layout2_manifest(image_dir + "/manifest.txt");
    char tmpl[] = "/tmp/vauchi-relay-mig-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string const dir = tmpl;
    std::filesystem::create_directories(dir + "/data");
    std::string const store = dir + "/data/store";
    BOOST_REQUIRE(std::system(("gzip -dc '" + image_dir + "/store.gz' > '" + store + "'").c_str()) == 0);

    relay_options options;
    options.data_dir = dir;
    // The image's records were made in 2025: nothing may expire while they are checked.
    options.env["RELAY_BLOB_TTL_SECS"] = "400000000";
    options.env["RELAY_MAX_STORAGE_BYTES"] = std::to_string(64u << 20);
    {
        relay_process relay(options);
        BOOST_TEST(relay.log().find("has layout version 2") != std::string::npos);
        BOOST_TEST(relay.log().find("store migrated to layout version 3") != std::string::npos);
        BOOST_TEST(relay.log().find("61 records") != std::string::npos);
        BOOST_TEST(std::filesystem::exists(store + ".layout2"));

        // Updates: each recipient gets its records, in the order they were stored.
        std::map<std::string, std::vector<relay::shm::stored_record const*>> by_recipient;
        for (auto const& r : expected)
            if (r.kind == relay::shm::blob_kind::update)
                by_recipient[r.key].push_back(&r);
        for (auto const& [recipient, records] : by_recipient) {
            auto c = connect_as(relay.port(), recipient);
            for (auto const* want : records) {
                auto const e = c->receive_envelope();
                BOOST_TEST_REQUIRE(e.has_value(), "missing record for " << recipient);
                BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == want->data);
                BOOST_TEST(dashless(e->message_id) == hex_of(want->blob_id));
            }
            BOOST_TEST(c->silent_for(200ms));
        }
        // Device-sync messages: each device gets its own, by version.
        auto const first = std::find_if(expected.begin(), expected.end(),
                                        [](auto const& r) { return r.kind == relay::shm::blob_kind::device_sync; });
        BOOST_REQUIRE(first != expected.end());
        relay::shm::device_sync_record::view v;
        BOOST_REQUIRE(relay::shm::device_sync_record::unpack(first->data, v));
        std::string const device(v.target_device_id);
        auto c = connect_as(relay.port(), first->key, with_device(device));
        std::uint64_t last_version = 0;
        int seen = 0;
        for (;;) {
            auto const e = c->receive_envelope(500ms);
            if (!e)
                break;
            auto const& m = expect_payload<device_sync_message>(e);
            BOOST_TEST(m.target_device_id == device);
            BOOST_TEST(m.version >= last_version);
            last_version = m.version;
            ++seen;
        }
        BOOST_TEST(seen == 2);
    }
    // The migrated store checks clean, checksums included.
    std::string const cmd =
        relay_binary() + " --check-store --data-dir '" + dir + "/data' > '" + dir + "/check.txt' 2>&1";
    int const rc = std::system(cmd.c_str());
    BOOST_TEST((WIFEXITED(rc) && WEXITSTATUS(rc) == 0));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
