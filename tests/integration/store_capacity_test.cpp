// The whole capacity for every mailbox (docs/store.md, "Pages, the pool and
// shards" and "Capacity"), through the real binary: the default quota fits
// with the default settings, one mailbox fills the store, tens of thousands
// of recipients fit a small store, a store grows in place and never shrinks.

#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::acknowledgment;
using relay::protocol::encrypted_update;

namespace {

/// Stores `size`-byte blobs for `recipient` until the relay answers Failed
/// (or `limit` blobs); returns how many were Stored.
int store_until_failed(std::uint16_t port, std::string const& recipient, std::size_t size, int limit)
{
    auto s = connect_as(port, random_id());
    auto const data = random_bytes(size);
    for (int i = 0; i < limit; ++i) {
        s->send_binary(update_frame(recipient, data, "f" + std::to_string(i)));
        auto const e = s->receive_envelope(10000ms);
        auto const& ack = expect_payload<acknowledgment>(e);
        if (ack.status != ack_status::stored)
            return i;
    }
    return limit;
}

} // namespace

BOOST_AUTO_TEST_SUITE(store_capacity)

BOOST_AUTO_TEST_CASE(with_default_settings_one_recipient_gets_its_whole_quota)
{
    // RELAY_MAX_STORAGE_PER_USER 50 MB, RELAY_MAX_STORAGE_BYTES 1 GiB: before
    // Store v2 this recipient got Failed from about 32 MiB (its shard's share).
    relay_options options;
    options.env = {{"RELAY_RATE_LIMIT", "100000"}, {"RELAY_MAX_BLOBS_PER_USER", "0"}};
    relay_process relay(options);
    std::size_t const size = 250000; // fits a 1 MiB frame as a JSON byte array
    int const stored = store_until_failed(relay.port(), random_id(), size, 400);
    // 50 000 000 / (250 000 + 44) = 199.98: the quota, not the store, says no.
    BOOST_TEST(stored == 199);
    std::string const text = http_get(relay.metrics_port(), "/metrics");
    BOOST_TEST(metric(text, "relay_store_refusals_total{cause=\"quota\"}") == 1u);
    BOOST_TEST(metric(text, "relay_store_refusals_total{cause=\"capacity\"}") == 0u);
}

BOOST_AUTO_TEST_CASE(one_mailbox_fills_at_least_ninety_percent_of_the_store)
{
    relay_options options;
    options.env = {{"RELAY_RATE_LIMIT", "100000"},
                   {"RELAY_MAX_BLOBS_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_BYTES", std::to_string(64u << 20)}};
    relay_process relay(options);
    std::size_t const size = 250000;
    int const stored = store_until_failed(relay.port(), random_id(), size, 1000);
    double const filled = double(stored) * double(size) / double(64u << 20);
    BOOST_TEST_MESSAGE("one mailbox holds " << stored << " blobs of 250 kB: " << filled * 100 << "% of the capacity");
    BOOST_TEST(filled >= 0.90);
    std::string const text = http_get(relay.metrics_port(), "/metrics");
    BOOST_TEST(metric(text, "relay_store_refusals_total{cause=\"capacity\"}") >= 1u);
    BOOST_TEST(metric(text, "relay_store_free_pages") == 0u);
}

BOOST_AUTO_TEST_CASE(twenty_thousand_recipients_with_one_small_blob_each_fit_a_64_mib_store)
{
    relay_options options;
    options.env = {{"RELAY_RATE_LIMIT", "100000"}, {"RELAY_MAX_STORAGE_BYTES", std::to_string(64u << 20)}};
    relay_process relay(options);
    auto s = connect_as(relay.port(), random_id());
    std::vector<std::string> recipients;
    int failed = 0, in_flight = 0;
    constexpr int count = 20000, window = 64;
    auto collect = [&] {
        auto const e = s->receive_envelope(10000ms);
        failed += expect_payload<acknowledgment>(e).status != ack_status::stored;
        --in_flight;
    };
    for (int i = 0; i < count; ++i) {
        recipients.push_back(random_id());
        s->send_binary(update_frame(recipients.back(), random_bytes(100), "r" + std::to_string(i)));
        if (++in_flight == window)
            collect();
    }
    while (in_flight > 0)
        collect();
    BOOST_TEST(failed == 0);
    BOOST_TEST(metric(http_get(relay.metrics_port(), "/metrics"), "relay_store_mailboxes") == std::uint64_t{count});
    // A few of them, checked end to end.
    for (int i = 0; i < count; i += 4999) {
        auto c = connect_as(relay.port(), recipients[static_cast<std::size_t>(i)]);
        auto const e = c->receive_envelope();
        BOOST_TEST(expect_payload<encrypted_update>(e).ciphertext.size() == 100u);
    }
}

BOOST_AUTO_TEST_CASE(a_store_grows_in_place_keeping_every_blob_and_never_shrinks)
{
    char tmpl[] = "/tmp/vauchi-relay-grow-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_options options;
    options.data_dir = tmpl; // kept across the three relays (a relay's own directory goes with it)
    options.workers = 2;
    options.env = {{"RELAY_RATE_LIMIT", "100000"},
                   {"RELAY_MAX_BLOBS_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_BYTES", std::to_string(16u << 20)}};
    std::string const recipient = random_id();
    int first = 0;
    {
        relay_process relay(options);
        first = store_until_failed(relay.port(), recipient, 250000, 1000);
        BOOST_TEST(first >= 55); // ~90% of 16 MiB
    }
    options.env["RELAY_MAX_STORAGE_BYTES"] = std::to_string(48u << 20);
    {
        relay_process relay(options);
        BOOST_TEST(relay.log().find("store grown in place from 16 to 48 MiB") != std::string::npos);
        int const more = store_until_failed(relay.port(), recipient, 250000, 1000);
        BOOST_TEST(first + more >= 170); // ~90% of 48 MiB
        auto c = connect_as(relay.port(), recipient);
        int delivered = 0;
        while (c->receive_envelope(1000ms))
            ++delivered;
        BOOST_TEST(delivered == first + more);
    }
    // Lower than the store: refused with what to do, the store untouched.
    options.env["RELAY_MAX_STORAGE_BYTES"] = std::to_string(16u << 20);
    options.expect_ready = false;
    relay_process smaller(options);
    int const status = smaller.wait_exit();
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 2));
    BOOST_TEST(smaller.log().find("a store never shrinks in place") != std::string::npos);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_CASE(space_freed_by_acknowledged_small_blobs_serves_blobs_of_another_size)
{
    // Small blobs fill 70 % of a 64 MiB store and 90 % of them are
    // acknowledged, one kept in every ten consecutive sends: every page keeps
    // live chunks, so only compaction can give the space back to 48 KiB blobs.
    std::uint64_t const capacity = 64u << 20;
    relay_options options;
    options.workers = 2;
    options.env = {{"RELAY_RATE_LIMIT", "1000000"},
                   {"RELAY_MAX_BLOBS_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_PER_USER", "0"},
                   {"RELAY_MAX_STORAGE_BYTES", std::to_string(capacity)}};
    relay_process relay(options);
    auto free_pages = [&] { return metric(http_get(relay.metrics_port(), "/metrics"), "relay_store_free_pages"); };
    std::uint64_t const pages = metric(http_get(relay.metrics_port(), "/metrics"), "relay_store_pages");

    std::vector<std::string> recipients;
    for (int i = 0; i < 100; ++i)
        recipients.push_back(random_id());
    std::vector<int> per_recipient(recipients.size(), 0);
    {
        auto s = connect_as(relay.port(), random_id());
        auto const data = random_bytes(1000);
        int in_flight = 0, sent = 0;
        auto collect = [&] {
            auto const e = s->receive_envelope(10000ms);
            BOOST_REQUIRE(expect_payload<acknowledgment>(e).status == ack_status::stored);
            --in_flight;
        };
        while (free_pages() > pages * 3 / 10) {
            for (int i = 0; i < 2000; ++i, ++sent) {
                std::size_t const to = static_cast<std::size_t>(sent) % recipients.size();
                s->send_binary(update_frame(recipients[to], data, "s" + std::to_string(sent)));
                per_recipient[to] += 1;
                if (++in_flight == 64)
                    collect();
            }
            while (in_flight > 0)
                collect();
        }
        BOOST_TEST_MESSAGE(sent << " blobs of 1000 bytes fill " << pages - free_pages() << " of " << pages << " pages");
    }
    std::vector<int> kept(recipients.size(), 0);
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        auto c = connect_as(relay.port(), recipients[r]);
        for (int n = 0; n < per_recipient[r]; ++n) {
            auto const e = c->receive_envelope(10000ms);
            BOOST_REQUIRE(e.has_value());
            // Blob n of recipient r was sent n * 100 + r-th: one in ten of any run of sends is kept.
            if ((n + static_cast<int>(r)) % 10 != 0)
                c->send_binary(ack_frame(e->message_id, ack_status::received_by_recipient));
            else
                kept[r] += 1;
        }
    }
    std::uint64_t const free_after_acks = free_pages();
    // Compaction runs in the cleanup process within a second or two.
    std::uint64_t free_now = free_after_acks;
    for (int i = 0; i < 100 && free_now < pages * 8 / 10; ++i) {
        std::this_thread::sleep_for(100ms);
        free_now = free_pages();
    }
    // Records moved are counted batch by batch: a round still running counts too.
    std::string const text = http_get(relay.metrics_port(), "/metrics");
    BOOST_TEST_MESSAGE("free pages: " << free_after_acks << " after the acknowledgments, " << free_now
                                      << " after compaction moved " << metric(text, "relay_store_records_moved_total")
                                      << " records");
    BOOST_TEST(metric(text, "relay_store_records_moved_total") > 0u);

    int const big = store_until_failed(relay.port(), random_id(), 48 * 1024, 2000);
    double const share = double(big) * 48 * 1024 / double(capacity);
    BOOST_TEST_MESSAGE(big << " blobs of 48 KiB fit: " << share * 100 << "% of the capacity");
    BOOST_TEST(share >= 0.60);

    // Every small blob left unacknowledged is still delivered, once.
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        auto c = connect_as(relay.port(), recipients[r]);
        for (int n = 0; n < kept[r]; ++n) {
            auto const e = c->receive_envelope(10000ms);
            BOOST_TEST_REQUIRE(expect_payload<encrypted_update>(e).ciphertext.size() == 1000u);
        }
        BOOST_TEST(!c->receive_envelope(r == 0 ? 1000ms : 20ms).has_value()); // nothing more, nothing twice
    }
}

BOOST_AUTO_TEST_SUITE_END()
