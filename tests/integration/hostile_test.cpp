// Hostile clients (README.md, "Hostile clients and memory bounds"): each attack against the real binary with four
// workers gets its documented response while an honest client keeps being
// served (its p99 ack latency is reported), the relay's heap stays bounded,
// and nothing stored is lost.

#include <boost/asio/connect.hpp>

#include <thread>

#include "hostile_support.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
namespace net = boost::asio;

namespace {

/// An EncryptedUpdate frame of exactly `total` bytes (prefix included).
std::string update_of_size(std::size_t total, std::string const& recipient, std::string id)
{
    std::string probe = update_frame(recipient, {}, id);
    std::size_t const n = (total - probe.size() + 1) / 2; // each byte adds "1," (the first just "1")
    std::string f = update_frame(recipient, std::vector<std::uint8_t>(n, 1), id);
    if (f.size() < total)
        f = update_frame(recipient, std::vector<std::uint8_t>(n, 1), id + std::string(total - f.size(), 'x'));
    BOOST_REQUIRE_EQUAL(f.size(), total);
    return f;
}

std::string raw_json_frame(std::string const& json)
{
    auto const n = static_cast<std::uint32_t>(json.size());
    std::string f{static_cast<char>(n >> 24), static_cast<char>(n >> 16 & 0xff), static_cast<char>(n >> 8 & 0xff),
                  static_cast<char>(n & 0xff)};
    return f + json;
}

/// Still served: a valid update on this connection is answered Stored.
void expect_still_served(ws_client& c, std::string const& id)
{
    c.send_binary(update_frame(random_id(), {7}, id));
    expect_ack(c, id, ack_status::stored);
}

/// Logs the figures of one attack and holds the relay to its memory bound:
/// its heap grows by less than `bound_mib` over the attack (the store is shared
/// memory of fixed size and not counted).
void report(char const* attack, double p99_ms, std::uint64_t heap_before_kib, std::uint64_t heap_kib,
            std::uint64_t bound_mib = 48)
{
    std::uint64_t const growth = heap_kib - std::min(heap_kib, heap_before_kib);
    BOOST_TEST_MESSAGE(attack << ": honest p99 ack " << p99_ms << " ms; relay heap " << heap_kib / 1024 << " MiB (+"
                              << growth / 1024 << " MiB)");
    BOOST_TEST(growth < bound_mib * 1024);
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile)

BOOST_AUTO_TEST_CASE(per_address_cap_holds_across_workers_and_spares_other_addresses)
{
    relay_options options;
    options.env["RELAY_MAX_CONNECTIONS_PER_IP"] = "3";
    options.env["RELAY_PER_IP_EXEMPT_LOOPBACK"] = "false"; // every 127.x address is its own client here
    relay_process relay(options);
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(std::make_unique<ws_client>(relay.port(), "/ws", "127.0.0.1"));
    // Four workers: wherever the next ones land, they are refused without a reply.
    for (int i = 0; i < 4; ++i)
        BOOST_CHECK_THROW(ws_client(relay.port(), "/ws", "127.0.0.1"), std::exception);
    // Another address is another client.
    for (int i = 0; i < 3; ++i)
        ws_client other(relay.port(), "/ws", "127.0.0.2");
    held.pop_back();
    std::this_thread::sleep_for(200ms);
    ws_client again(relay.port(), "/ws", "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(loopback_peers_are_exempt_by_default_as_a_local_tls_proxy_would_be)
{
    relay_options options;
    options.env["RELAY_MAX_CONNECTIONS_PER_IP"] = "2";
    relay_process relay(options);
    std::vector<std::unique_ptr<ws_client>> held;
    for (int i = 0; i < 6; ++i)
        held.push_back(std::make_unique<ws_client>(relay.port(), "/ws"));
}

BOOST_AUTO_TEST_CASE(logs_at_debug_level_show_no_id_address_or_payload_byte)
{
    relay_options options;
    options.env["RELAY_LOG_LEVEL"] = "debug";
    relay_process relay(options);
    std::string const alice = random_id(), bob = random_id(), token = random_id(), device = random_id();
    std::vector<std::uint8_t> const payload{222, 173, 190, 239, 202, 254, 186, 190};
    handshake_options o = with_token(token);
    o.device_id = device;
    {
        ws_client raw(relay.port(), "/ws", "127.0.0.3");
        raw.send_binary(handshake_frame(alice, o));
        BOOST_TEST(raw.receive_envelope().has_value());
        raw.send_binary(update_frame(bob, payload, "m1"));
        BOOST_TEST(raw.receive_envelope().has_value());
        relay::protocol::device_sync_message ds;
        ds.identity_id = alice;
        ds.target_device_id = random_id();
        ds.sender_device_id = device;
        ds.encrypted_payload = payload;
        raw.send_binary(frame_of(ds, "m2"));
        BOOST_TEST(raw.receive_envelope().has_value());
        relay::protocol::recovery_proof_store proof;
        proof.key_hash = random_id();
        proof.proof_data = payload;
        raw.send_binary(frame_of(proof, "m3"));
        BOOST_TEST(raw.receive_envelope().has_value());
        raw.send_binary(frame_of(relay::protocol::purge_request{}, "m4"));
        BOOST_TEST(raw.receive_envelope().has_value());
        raw.send_binary(std::string("garbage that does not decode"));
    }
    auto b = connect_as(relay.port(), bob);
    auto const delivered = b->receive_envelope();
    BOOST_TEST(delivered.has_value());
    relay.stop();
    std::string const log = relay.log();
    BOOST_TEST(log.find("debug") != std::string::npos); // the level took effect
    BOOST_TEST(log.find("127.0.0.3") == std::string::npos);
    BOOST_TEST(log.find("222,173,190,239") == std::string::npos);
    // The destructor rejects any 32-character hex run (ids, tokens, key hashes).
}

BOOST_AUTO_TEST_CASE(malformed_and_oversized_input_is_dropped_and_the_connection_keeps_serving)
{
    relay_options options;
    options.env["RELAY_MAX_MESSAGE_SIZE"] = "2097152";
    relay_process relay(options);
    std::uint64_t const heap_before = relay_anon_rss_kib(relay);
    honest_probe probe(relay.port());
    auto c = connect_as(relay.port(), random_id());
    std::string const to = random_id();

    // A length prefix claiming 4 GiB is ignored (never used to size anything).
    std::string lying = update_frame(to, {1}, "prefix");
    lying[0] = lying[1] = lying[2] = lying[3] = '\xff';
    c->send_binary(lying);
    expect_ack(*c, "prefix", ack_status::stored);

    // Exactly at the limit is processed; one byte over is dropped silently.
    c->send_binary(update_of_size(2097152, to, "at-limit"));
    expect_ack(*c, "at-limit", ack_status::stored);
    c->send_binary(update_of_size(2097153, to, "over-limit"));
    BOOST_TEST(c->silent_for(500ms));

    // 10 000-deep nesting, a 1 MiB array of out-of-range numbers, invalid
    // UTF-8, a text frame: silent, connection kept.
    std::string deep =
        R"({"version":1,"message_id":"deep","timestamp":0,"payload":{"type":"EncryptedUpdate","recipient_id":")" + to +
        R"(","ciphertext":[1],"x":)" + std::string(10000, '[') + std::string(10000, ']') + "}}";
    c->send_binary(raw_json_frame(deep));
    std::string big =
        R"({"version":1,"message_id":"big","timestamp":0,"payload":{"type":"EncryptedUpdate","recipient_id":")" + to +
        R"(","ciphertext":[)";
    while (big.size() < (1u << 20))
        big += "256,";
    big += "256]}}";
    c->send_binary(raw_json_frame(big));
    c->send_binary(
        raw_json_frame(R"({"version":1,"message_id":"\xff\xfe","timestamp":0,"payload":{"type":"PurgeRequest"}})"));
    c->send_text("{\"type\":\"PurgeRequest\"}");
    BOOST_TEST(c->silent_for(500ms));

    // A message fragmented into 1-byte-to-4-KiB WebSocket frames is one message.
    c->send_fragmented(update_frame(to, std::vector<std::uint8_t>(20000, 9), "fragmented"), 4096);
    expect_ack(*c, "fragmented", ack_status::stored);
    c->send_fragmented(update_frame(to, {9}, "tiny-fragments"), 1);
    expect_ack(*c, "tiny-fragments", ack_status::stored);
    expect_still_served(*c, "after");
    report("malformed input", probe.finish(), heap_before, relay_anon_rss_kib(relay));
    // What was Stored is delivered: the four accepted updates above.
    auto r = connect_as(relay.port(), to);
    int delivered = 0;
    while (r->receive_envelope(1000ms))
        ++delivered;
    BOOST_TEST(delivered == 4);
}

BOOST_AUTO_TEST_CASE(a_stranger_cannot_make_the_relay_buffer_a_large_first_message)
{
    relay_process relay;
    ws_client c(relay.port(), "/ws");
    bool closed = false;
    try {
        c.send_binary(std::string(256 * 1024, 'x')); // far beyond any Handshake or Noise opening
    } catch (std::exception const&) {
        closed = true; // the relay closed while the message was still being written
    }
    BOOST_TEST((closed || c.closed_within(3000ms)));
    auto ok = connect_as(relay.port(), random_id());
}

BOOST_AUTO_TEST_CASE(a_flood_at_a_hundred_times_the_rate_limit_only_costs_the_flooder)
{
    relay_process relay(with_env({{"RELAY_RATE_LIMIT", "60"}}));
    std::uint64_t const heap_before = relay_anon_rss_kib(relay);
    honest_probe probe(relay.port());
    auto flooder = connect_as(relay.port(), random_id());
    std::string const to = random_id();
    for (int i = 0; i < 6000; ++i)
        flooder->send_binary(update_frame(to, {1}, "f" + std::to_string(i)));
    int acked = 0;
    while (flooder->receive_envelope(1000ms))
        ++acked;
    // The bucket holds 60 and refills one per second while the flood lasts.
    BOOST_TEST(acked >= 60);
    BOOST_TEST(acked <= 80);
    report("flood x100", probe.finish(), heap_before, relay_anon_rss_kib(relay));
}

BOOST_AUTO_TEST_CASE(two_thousand_silent_handshaken_connections_cost_bounded_memory)
{
    raise_fd_limit();
    relay_process relay(with_env({{"RELAY_MAX_CONNECTIONS", "3000"}}));
    std::uint64_t const before = relay_anon_rss_kib(relay);
    std::vector<std::unique_ptr<ws_client>> silent;
    for (int i = 0; i < 2000; ++i)
        silent.push_back(connect_as(relay.port(), random_id()));
    std::this_thread::sleep_for(500ms);
    std::uint64_t const after = relay_anon_rss_kib(relay);
    double const per_connection = static_cast<double>(after - std::min(after, before)) / 2000.0;
    BOOST_TEST_MESSAGE("2000 idle handshaken connections: " << per_connection << " KiB of relay heap each");
    BOOST_TEST(per_connection < 64.0);
    honest_probe probe(relay.port());
    std::this_thread::sleep_for(2s);
    report("2000 silent connections", probe.finish(), before, after, 128);
}

BOOST_AUTO_TEST_CASE(half_open_tcp_connections_are_closed_at_the_handshake_deadline)
{
    raise_fd_limit();
    relay_process relay(with_env({{"RELAY_HANDSHAKE_TIMEOUT", "2"}, {"RELAY_MAX_CONNECTIONS", "1000"}}));
    std::uint64_t const heap_before = relay_anon_rss_kib(relay);
    net::io_context ioc;
    std::vector<net::ip::tcp::socket> sockets;
    for (int i = 0; i < 300; ++i) {
        sockets.emplace_back(ioc);
        sockets.back().connect({net::ip::make_address("127.0.0.1"), relay.port()});
    }
    honest_probe probe(relay.port());
    std::this_thread::sleep_for(3500ms);
    int closed = 0;
    for (auto& s : sockets) {
        s.non_blocking(true);
        char byte = 0;
        boost::system::error_code ec;
        s.read_some(net::buffer(&byte, 1), ec);
        closed += ec == net::error::eof || ec == net::error::connection_reset;
    }
    BOOST_TEST(closed == 300);
    report("300 half-open sockets", probe.finish(), heap_before, relay_anon_rss_kib(relay));
}

BOOST_AUTO_TEST_CASE(a_recipient_that_never_reads_its_backlog_cannot_pin_memory_and_loses_nothing)
{
    // A mailbox lives in one shard: give each shard room for the 2.4 MB backlog.
    relay_process relay(with_env({{"RELAY_MAX_STORAGE_BYTES", "268435456"}, {"RELAY_RATE_LIMIT", "6000"}}));
    std::string const victim = random_id();
    auto sender = connect_as(relay.port(), random_id());
    for (int i = 0; i < 40; ++i) { // 40 x 48 KiB, about 10 MB of JSON to push
        sender->send_binary(update_frame(victim, random_bytes(48 * 1024), "b" + std::to_string(i)));
        expect_ack(*sender, "b" + std::to_string(i), ack_status::stored);
    }
    std::uint64_t const before = relay_anon_rss_kib(relay);
    honest_probe probe(relay.port());
    {
        ws_client stalled(relay.port(), "/ws");
        stalled.send_binary(handshake_frame(victim)); // and never reads
        for (int i = 40; i < 50; ++i) {               // live pushes pile up behind the stalled socket
            sender->send_binary(update_frame(victim, random_bytes(48 * 1024), "b" + std::to_string(i)));
            // Delivered acks for what still fit into the socket arrive in between.
            std::optional<relay::protocol::envelope> e;
            do
                e = sender->receive_envelope();
            while (e && std::get_if<relay::protocol::acknowledgment>(&e->body) &&
                   std::get<relay::protocol::acknowledgment>(e->body).status == ack_status::delivered);
            auto const& ack = expect_payload<relay::protocol::acknowledgment>(e);
            BOOST_TEST(ack.message_id == "b" + std::to_string(i));
            BOOST_TEST((ack.status == ack_status::stored));
        }
        std::this_thread::sleep_for(1s);
        std::uint64_t const during = relay_anon_rss_kib(relay);
        BOOST_TEST_MESSAGE("stalled reader: relay heap grew by " << (during - std::min(during, before)) / 1024
                                                                 << " MiB");
        BOOST_TEST(during - std::min(during, before) < 32u * 1024); // blobs are queued as references, not bytes
    }
    report("stalled reader", probe.finish(), before, relay_anon_rss_kib(relay));
    auto reader = connect_as(relay.port(), victim);
    int delivered = 0;
    while (reader->receive_envelope(2000ms))
        ++delivered;
    BOOST_TEST(delivered == 50);
}

BOOST_AUTO_TEST_SUITE_END()
