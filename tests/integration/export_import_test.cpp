// vauchi-relay --export and --import through the real binary (docs/store.md,
// "Upgrades from layout 2"): a snapshot of a running relay and an export of
// the stopped store hold the same records; importing into a new, smaller
// store and exporting again gives the same records byte for byte, and the
// relay started on the imported store delivers each under its original id.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "shm/record_file.hpp"
#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::encrypted_update;

namespace {

int run(std::string const& args, std::string const& log)
{
    int const rc = std::system((relay_binary() + " " + args + " > '" + log + "' 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

using record_key = std::pair<std::string, std::string>; // kind+key, blob id

std::map<record_key, relay::shm::stored_record> read_export(std::string const& file)
{
    std::map<record_key, relay::shm::stored_record> out;
    relay::shm::record_file_reader in(file);
    relay::shm::stored_record r;
    while (in.next(r))
        out[{std::to_string(static_cast<int>(r.kind)) + r.key, relay::random::to_string(r.blob_id)}] = r;
    return out;
}

bool same(relay::shm::stored_record const& a, relay::shm::stored_record const& b)
{
    return a.kind == b.kind && a.key == b.key && a.sender == b.sender && a.sender_message_id == b.sender_message_id &&
        a.blob_id == b.blob_id && a.created_unix == b.created_unix && a.delivered_sent == b.delivered_sent &&
        a.data == b.data;
}

} // namespace

BOOST_AUTO_TEST_SUITE(export_import)

BOOST_AUTO_TEST_CASE(export_then_import_carries_every_record_byte_for_byte)
{
    char tmpl[] = "/tmp/vauchi-relay-xfer-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string const dir = tmpl;
    relay_options options;
    options.env = {{"RELAY_RATE_LIMIT", "100000"}, {"RELAY_MAX_STORAGE_BYTES", std::to_string(64u << 20)}};
    relay_process relay(options);
    std::map<std::string, std::vector<std::vector<std::uint8_t>>> sent;
    {
        auto s = connect_as(relay.port(), random_id());
        for (int i = 0; i < 40; ++i) {
            std::string const r = i % 5 == 0 ? random_id() : "a" + std::string(62, '0') + std::to_string(i % 4);
            sent[r].push_back(random_bytes(static_cast<std::size_t>(1 + i * 2311 % 150000)));
            s->send_binary(update_frame(r, sent[r].back(), "x" + std::to_string(i)));
            expect_ack(*s, "x" + std::to_string(i), ack_status::stored);
        }
    }
    std::string const data = relay.data_dir() + "/data";
    BOOST_TEST(run("--export '" + dir + "/live.exp' --data-dir '" + data + "'", dir + "/live.log") == 0);
    BOOST_TEST(run("--export '" + dir + "/live.exp' --data-dir '" + data + "'", dir + "/again.log") !=
               0); // never overwrites
    relay.stop();
    BOOST_TEST(run("--export '" + dir + "/stopped.exp' --data-dir '" + data + "'", dir + "/stopped.log") == 0);
    auto const live = read_export(dir + "/live.exp");
    auto const stopped = read_export(dir + "/stopped.exp");
    BOOST_TEST(live.size() == 40u);
    BOOST_TEST_REQUIRE(stopped.size() == live.size());
    for (auto const& [k, r] : live)
        BOOST_TEST((stopped.count(k) && same(stopped.at(k), r)));

    // Into a new, smaller store; exported again, the same records.
    std::filesystem::create_directories(dir + "/new");
    std::string const small = "RELAY_MAX_STORAGE_BYTES=" + std::to_string(16u << 20) + " ";
    BOOST_TEST(std::system((small + relay_binary() + " --import '" + dir + "/stopped.exp' --data-dir '" + dir +
                            "/new/data' > '" + dir + "/import.log' 2>&1")
                               .c_str()) == 0);
    BOOST_TEST(run("--import '" + dir + "/stopped.exp' --data-dir '" + dir + "/new/data'", dir + "/twice.log") != 0);
    BOOST_TEST(run("--export '" + dir + "/round.exp' --data-dir '" + dir + "/new/data'", dir + "/round.log") == 0);
    auto const round = read_export(dir + "/round.exp");
    BOOST_TEST_REQUIRE(round.size() == stopped.size());
    for (auto const& [k, r] : stopped)
        BOOST_TEST((round.count(k) && same(round.at(k), r)));

    // A relay on the imported store delivers every blob, in order, with its id.
    relay_options imported;
    imported.data_dir = dir + "/new";
    imported.env = {{"RELAY_MAX_STORAGE_BYTES", std::to_string(16u << 20)}};
    relay_process again(imported);
    for (auto const& [recipient, blobs] : sent) {
        auto c = connect_as(again.port(), recipient);
        for (auto const& b : blobs) {
            auto const e = c->receive_envelope();
            BOOST_REQUIRE(e.has_value());
            BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext == b);
            BOOST_TEST(round.count({"0" + recipient, e->message_id}) == 1u);
        }
    }
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_damaged_export_is_refused_and_leaves_no_store)
{
    char tmpl[] = "/tmp/vauchi-relay-xfer-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string const dir = tmpl;
    std::filesystem::create_directories(dir + "/a"); // the relay's log goes there
    {
        relay_options options;
        options.data_dir = dir + "/a";
        relay_process relay(options);
        auto s = connect_as(relay.port(), random_id());
        s->send_binary(update_frame(random_id(), random_bytes(5000), "m"));
        expect_ack(*s, "m", ack_status::stored);
    }
    BOOST_REQUIRE(run("--export '" + dir + "/x.exp' --data-dir '" + dir + "/a/data'", dir + "/e.log") == 0);
    auto const size = std::filesystem::file_size(dir + "/x.exp");
    for (std::uint64_t at : {size / 2, size - 3}) {
        std::filesystem::copy_file(dir + "/x.exp", dir + "/y.exp", std::filesystem::copy_options::overwrite_existing);
        {
            std::FILE* f = std::fopen((dir + "/y.exp").c_str(), "r+b");
            std::fseek(f, static_cast<long>(at), SEEK_SET);
            int const c = std::fgetc(f);
            std::fseek(f, static_cast<long>(at), SEEK_SET);
            std::fputc(c ^ 0x10, f);
            std::fclose(f);
        }
        BOOST_TEST(run("--import '" + dir + "/y.exp' --data-dir '" + dir + "/b/data'", dir + "/i.log") != 0);
        BOOST_TEST(!std::filesystem::exists(dir + "/b/data/store"));
    }
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
