// Live push cannot be lost (docs/architecture.md, "Push fallback"): with the
// notification rings shrunk to a few entries, with a full presence table, and
// with a producer killed while it holds a ring's lock, every blob acknowledged
// `Stored` reaches its online recipient over the connection it already has,
// within a second, exactly once and in each sender's order. The shrunken
// tables exist only in a -Dfault_injection=true build.

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "test_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
using relay::protocol::acknowledgment;
using relay::protocol::encrypted_update;
using namespace std::chrono_literals;

namespace {

constexpr int senders = 6;
constexpr int recipients = 6;
constexpr int per_pair = 40; ///< updates from each sender to each recipient

std::string message_id(int s, int r, int k)
{
    return "s" + std::to_string(s) + "-r" + std::to_string(r) + "-k" + std::to_string(k);
}

/// The ciphertext names its sender and its place in that sender's order.
std::vector<std::uint8_t> payload(int s, int k)
{
    std::string const text = "sender " + std::to_string(s) + " update " + std::to_string(k);
    return {text.begin(), text.end()};
}

struct burst {
    /// Per recipient, the payloads acknowledged Stored.
    std::map<int, std::set<std::vector<std::uint8_t>>> stored;
    std::chrono::steady_clock::time_point all_acked;
};

/// Every sender pipelines all its updates, then collects its Stored acks. A
/// sender whose connection dies (its worker was killed) keeps what it got.
burst send_burst(std::uint16_t port, std::vector<std::string> const& recipient_ids)
{
    std::vector<std::unique_ptr<ws_client>> out;
    for (int s = 0; s < senders; ++s)
        out.push_back(connect_as(port, random_id()));
    std::vector<bool> writable(senders, true);
    for (int k = 0; k < per_pair; ++k)
        for (int s = 0; s < senders; ++s)
            for (int r = 0; r < recipients && writable[s]; ++r) {
                try {
                    out[s]->send_binary(update_frame(recipient_ids[r], payload(s, k), message_id(s, r, k)));
                } catch (std::exception const&) {
                    writable[s] = false; // its worker died; its acks so far are still read below
                }
            }
    burst b;
    for (int r = 0; r < recipients; ++r)
        b.stored[r] = {};
    for (int s = 0; s < senders; ++s) {
        int stored = 0;
        while (stored < recipients * per_pair) {
            auto const e = out[s]->receive_envelope(10s);
            if (!e)
                break; // its worker died: what it did not hear acknowledged may or may not be stored
            auto const* ack = std::get_if<acknowledgment>(&e->body);
            if (ack == nullptr || ack->status != ack_status::stored)
                continue; // Delivered acks interleave
            ++stored;
            int r = 0, k = 0, sender = 0;
            BOOST_REQUIRE(std::sscanf(ack->message_id.c_str(), "s%d-r%d-k%d", &sender, &r, &k) == 3);
            b.stored[r].insert(payload(sender, k));
        }
    }
    b.all_acked = std::chrono::steady_clock::now();
    return b;
}

/// What one recipient connection received, checked as it arrives: exactly
/// once, and each sender's updates in that sender's order.
class receipts {
public:
    /// Reads until every blob of `expected` is in, or until `deadline`: what
    /// reached the connection by then is already in its socket buffer. False
    /// if the connection closed (its worker was killed).
    bool read_until(ws_client& c, std::set<std::vector<std::uint8_t>> const& expected,
                    std::chrono::steady_clock::time_point deadline)
    {
        while (!has_all(expected)) {
            auto const left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto const e = c.receive_envelope(std::max(left, 5ms));
            if (!e)
                return !c.closed_within(0ms);
            take(expect_payload<encrypted_update>(e).ciphertext);
        }
        return true;
    }
    /// Whatever arrives later must be new too.
    void read_rest(ws_client& c)
    {
        while (auto const e = c.receive_envelope(50ms))
            take(expect_payload<encrypted_update>(e).ciphertext);
    }
    std::size_t missing(std::set<std::vector<std::uint8_t>> const& expected) const
    {
        return static_cast<std::size_t>(
            std::count_if(expected.begin(), expected.end(), [&](auto const& p) { return !got_.contains(p); }));
    }

private:
    bool has_all(std::set<std::vector<std::uint8_t>> const& expected) const { return missing(expected) == 0; }
    void take(std::vector<std::uint8_t> const& ciphertext)
    {
        BOOST_TEST_REQUIRE(got_.insert(ciphertext).second, "a blob arrived twice");
        int s = 0, k = 0;
        std::string const text(ciphertext.begin(), ciphertext.end());
        BOOST_REQUIRE(std::sscanf(text.c_str(), "sender %d update %d", &s, &k) == 2);
        auto const [last, fresh] = last_of_sender_.try_emplace(s, k);
        if (!fresh) {
            BOOST_TEST(k > last->second, "sender " << s << ": update " << k << " after " << last->second);
            last->second = k;
        }
    }
    std::set<std::vector<std::uint8_t>> got_;
    std::map<int, int> last_of_sender_;
};

struct online {
    std::vector<std::string> ids;
    std::vector<std::unique_ptr<ws_client>> connections;
};

online connect_recipients(std::uint16_t port)
{
    online o;
    for (int r = 0; r < recipients; ++r) {
        o.ids.push_back(random_id());
        o.connections.push_back(connect_as(port, o.ids.back()));
    }
    return o;
}

/// Every recipient still connected got everything within a second of the
/// last Stored ack, once each; returns how many were still connected.
int check_everyone(online& o, burst const& b)
{
    auto const deadline = b.all_acked + 1s;
    std::vector<receipts> seen(recipients);
    std::vector<bool> live(recipients);
    for (int r = 0; r < recipients; ++r)
        live[r] = seen[r].read_until(*o.connections[r], b.stored.at(r), deadline);
    std::this_thread::sleep_for(300ms); // room for duplicates to show
    int connected = 0;
    for (int r = 0; r < recipients; ++r) {
        if (!live[r])
            continue;
        ++connected;
        seen[r].read_rest(*o.connections[r]);
        BOOST_TEST(seen[r].missing(b.stored.at(r)) == 0u,
                   "recipient " << r << ": " << seen[r].missing(b.stored.at(r)) << " of " << b.stored.at(r).size()
                                << " acknowledged blobs did not arrive within a second");
    }
    return connected;
}

std::uint64_t metric_now(relay_process const& relay, std::string const& name)
{
    return metric(http_get(relay.metrics_port(), "/metrics"), name);
}

} // namespace

BOOST_AUTO_TEST_SUITE(push_fallback)

BOOST_AUTO_TEST_CASE(bursts_through_rings_of_two_entries_all_arrive_live_once_and_in_order)
{
    relay_process relay(with_env({{"VAUCHI_TEST_RING_CAPACITY", "2"}, {"RELAY_RATE_LIMIT", "100000"}}));
    auto o = connect_recipients(relay.port());
    auto const b = send_burst(relay.port(), o.ids);
    BOOST_TEST(check_everyone(o, b) == recipients);
    // The rings did overflow, and the fallback is what delivered.
    BOOST_TEST(metric_now(relay, "relay_notifications_dropped_total") > 0u);
    BOOST_TEST(metric_now(relay, "relay_push_catch_ups_total") > 0u);
}

BOOST_AUTO_TEST_CASE(connections_the_full_presence_table_has_no_room_for_get_their_blobs_within_a_second)
{
    // Room for two connections: most recipients and every sender are left out.
    relay_process relay(with_env({{"VAUCHI_TEST_PRESENCE_LIMIT", "2"}, {"RELAY_RATE_LIMIT", "100000"}}));
    auto o = connect_recipients(relay.port());
    auto const b = send_burst(relay.port(), o.ids);
    BOOST_TEST(check_everyone(o, b) == recipients);
    BOOST_TEST(metric_now(relay, "relay_connections_without_presence_total") >= recipients - 2u);
}

BOOST_AUTO_TEST_CASE(a_producer_killed_holding_a_ring_lock_loses_no_push)
{
    char tmpl[] = "/tmp/vauchi-relay-push-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_process relay(with_env({{"VAUCHI_KILL_POINT", "ring.before_publish:30"},
                                  {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"},
                                  {"RELAY_RATE_LIMIT", "100000"}}));
    auto o = connect_recipients(relay.port());
    auto const b = send_burst(relay.port(), o.ids);
    BOOST_TEST_REQUIRE(relay.wait_for_log("notification ring reset", 10s));
    // Recipients on the killed worker lost their connection; every other one
    // must have everything live.
    BOOST_TEST(check_everyone(o, b) >= 1);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_CASE(a_worker_killed_before_it_announced_delivered_announces_it_at_the_next_hand_over)
{
    // The recipient's worker dies after writing the delivery and before
    // telling the sender: the blob is still marked undelivered, so handing
    // it over again tells the sender then. A Delivered may repeat after a
    // crash; it is never lost.
    char tmpl[] = "/tmp/vauchi-relay-delivered-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    relay_process relay(with_env({{"VAUCHI_KILL_POINT", "deliver.before_announce:1"},
                                  {"VAUCHI_KILL_POINT_TOKEN", std::string(tmpl) + "/token"}}));
    std::string const alice = random_id(), bob = random_id();
    auto sender = connect_as(relay.port(), alice);
    sender->send_binary(update_frame(bob, {4, 2}, "announce-me"));
    expect_ack(*sender, "announce-me", ack_status::stored);
    {
        auto b = connect_as(relay.port(), bob);
        BOOST_TEST(b->receive_envelope().has_value());
        BOOST_TEST(b->closed_within(5000ms)); // its worker died at the kill point
    }
    BOOST_TEST_REQUIRE(relay.wait_for_log("was killed by signal 9", 10s));
    // The sender's connection may have shared that worker: connect again if so.
    if (sender->closed_within(200ms))
        sender = connect_as(relay.port(), alice);
    auto b = connect_as(relay.port(), bob);
    BOOST_TEST(b->receive_envelope().has_value());
    expect_ack(*sender, "announce-me", ack_status::delivered);
    std::filesystem::remove_all(tmpl);
}

BOOST_AUTO_TEST_SUITE_END()
