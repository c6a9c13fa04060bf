// Protocol parity against the real binary with several workers: signed
// handshakes and the shared nonce window (§5), device sync (§7.6–7.7),
// recovery proofs (§7.8–7.9), purge (§7.10), Noise NK (§9), the metrics
// listener (§11.2–11.3); each durable across restarts where the Rust relay's is.

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "../common/ed25519_identity.hpp"
#include "common/random.hpp"
#include "test_support.hpp"
#include "noise/base64url.hpp"

using namespace relay::testing;
using relay::protocol::ack_status;
namespace protocol = relay::protocol;

namespace {

std::string const key_hash_a = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::array<std::uint8_t, 32> fresh_nonce()
{
    std::array<std::uint8_t, 32> n{};
    auto const bytes = random_bytes(32);
    std::copy(bytes.begin(), bytes.end(), n.begin());
    return n;
}

handshake_options signed_by(signed_auth const& a)
{
    handshake_options o;
    o.identity_public_key = a.identity_public_key;
    o.nonce = a.nonce;
    o.signature = a.signature;
    o.timestamp = a.timestamp;
    return o;
}

std::uint64_t now_unix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

std::string device_sync(std::string const& identity, std::string const& target, std::string const& sender,
                        std::uint64_t version, std::vector<std::uint8_t> payload)
{
    protocol::device_sync_message m;
    m.identity_id = identity;
    m.target_device_id = target;
    m.sender_device_id = sender;
    m.encrypted_payload = std::move(payload);
    m.version = version;
    return frame_of(m, "ds-" + std::to_string(version));
}

std::string proof_store(std::string const& hash, std::vector<std::uint8_t> proof, std::string const& id)
{
    protocol::recovery_proof_store m;
    m.key_hash = hash;
    m.proof_data = std::move(proof);
    return frame_of(m, id);
}

std::string proof_query(std::vector<std::string> hashes)
{
    protocol::recovery_proof_query q;
    q.key_hashes = std::move(hashes);
    return frame_of(q, relay::random::new_uuid_string());
}

/// The relay's Noise public key, as the supervisor logged it (§9.4).
std::array<std::uint8_t, 32> logged_noise_key(relay_process const& relay)
{
    std::string const marker = "noise public key (";
    std::string const log = relay.log();
    auto at = log.rfind(marker);
    BOOST_REQUIRE(at != std::string::npos);
    at = log.find("): ", at) + 3;
    auto const decoded = relay::noise::base64url_decode(log.substr(at, 43));
    BOOST_REQUIRE(decoded.has_value());
    BOOST_REQUIRE(decoded->size() == 32u);
    std::array<std::uint8_t, 32> out{};
    std::copy(decoded->begin(), decoded->end(), out.begin());
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(parity)

BOOST_AUTO_TEST_CASE(signed_handshake_is_accepted_once_and_every_replay_is_refused_on_any_worker)
{
    relay_process relay;
    ed25519_identity const id;
    auto const auth = id.sign(fresh_nonce(), now_unix());
    auto first = connect_as(relay.port(), id.client_id(), signed_by(auth));
    // Eight replays spread over the four workers: each is dropped without a reply.
    for (int i = 0; i < 8; ++i) {
        ws_client replay(relay.port(), "/ws");
        replay.send_binary(handshake_frame(id.client_id(), signed_by(auth)));
        BOOST_TEST(replay.closed_within(3000ms));
    }
    // A wrong signature is refused, and (D-10) does not burn the nonce it names.
    auto const nonce = fresh_nonce();
    ed25519_identity const attacker;
    auto forged = attacker.sign(nonce, now_unix());
    forged.identity_public_key = id.client_id();
    {
        ws_client bad(relay.port(), "/ws");
        bad.send_binary(handshake_frame(id.client_id(), signed_by(forged)));
        BOOST_TEST(bad.closed_within(3000ms));
    }
    auto genuine = connect_as(relay.port(), id.client_id(), signed_by(id.sign(nonce, now_unix())));
}

BOOST_AUTO_TEST_CASE(device_sync_flows_between_devices_across_workers_and_survives_a_restart)
{
    relay_process relay;
    std::string const me = random_id(), phone = random_id(), tablet = random_id();
    {
        auto p = connect_as(relay.port(), me, with_device(phone));
        p->send_binary(device_sync(me, tablet, phone, 5, {5, 5}));
        expect_ack(*p, "ds-5", ack_status::stored);
        p->send_binary(device_sync(me, tablet, phone, 2, {2}));
        expect_ack(*p, "ds-2", ack_status::stored);
        p->send_binary(device_sync(random_id(), tablet, phone, 9, {9})); // not my identity: silent
        BOOST_TEST(p->silent_for(300ms));
    }
    relay.restart();
    std::vector<std::string> ids;
    {
        auto t = connect_as(relay.port(), me, with_device(tablet));
        for (std::uint64_t expected : {2u, 5u}) {
            auto const e = t->receive_envelope();
            auto const& m = expect_payload<protocol::device_sync_message>(e);
            BOOST_TEST(m.version == expected);
            BOOST_TEST(m.identity_id == me);
            BOOST_TEST(m.target_device_id == tablet);
            BOOST_TEST(m.sender_device_id == phone);
            BOOST_TEST(m.encrypted_payload.size() == (expected == 2 ? 1u : 2u));
            ids.push_back(e->message_id);
        }
        BOOST_TEST(t->silent_for(300ms));
        protocol::device_sync_ack a;
        a.message_id = ids[0];
        a.synced_version = 2;
        t->send_binary(frame_of(a, "x"));
        BOOST_TEST(t->silent_for(300ms)); // [SILENT]
    }
    auto again = connect_as(relay.port(), me, with_device(tablet));
    auto const e = again->receive_envelope();
    BOOST_TEST(expect_payload<protocol::device_sync_message>(e).version == 5u);
    BOOST_TEST(e->message_id == ids[1]);
}

BOOST_AUTO_TEST_CASE(recovery_proofs_are_shared_rate_limited_and_durable)
{
    relay_options options;
    options.env["RELAY_RECOVERY_RATE_LIMIT"] = "3";
    relay_process relay(options);
    std::string const owner = random_id();
    {
        auto c = connect_as(relay.port(), owner);
        c->send_binary(proof_store(key_hash_a, {1, 2, 3}, "p1"));
        expect_ack(*c, "p1", ack_status::stored);
    }
    relay.restart();
    auto q = connect_as(relay.port(), random_id());
    q->send_binary(proof_query({key_hash_a, std::string(64, '0')}));
    auto const e = q->receive_envelope();
    auto const& r = expect_payload<protocol::recovery_proof_response>(e);
    BOOST_REQUIRE(r.proofs.size() == 1u);
    BOOST_TEST(r.proofs[0].key_hash == key_hash_a);
    BOOST_TEST(r.proofs[0].proof_data == (std::vector<std::uint8_t>{1, 2, 3}), boost::test_tools::per_element());
    // Limit 3 per routing id, shared by its connections on every worker.
    std::string const shared = random_id();
    int answered = 0;
    for (int i = 0; i < 5; ++i) {
        auto c = connect_as(relay.port(), shared);
        c->send_binary(proof_query({}));
        answered += c->receive_envelope(1000ms).has_value();
    }
    BOOST_TEST(answered == 3);
}

BOOST_AUTO_TEST_CASE(purge_reports_each_kind_it_deleted)
{
    relay_process relay;
    std::string const me = random_id(), phone = random_id();
    {
        auto s = connect_as(relay.port(), random_id());
        s->send_binary(update_frame(me, {1}, "u"));
        expect_ack(*s, "u", ack_status::stored);
    }
    auto c = connect_as(relay.port(), me, with_device(phone));
    (void)c->receive_envelope(); // the pending blob
    c->send_binary(device_sync(me, random_id(), phone, 1, {1}));
    expect_ack(*c, "ds-1", ack_status::stored);
    c->send_binary(proof_store(key_hash_a, {1}, "p"));
    expect_ack(*c, "p", ack_status::stored);
    protocol::purge_request all;
    all.include_device_sync = true;
    all.include_recovery_proofs = true;
    all.recovery_key_hash = key_hash_a;
    c->send_binary(frame_of(all, "purge"));
    auto const e = c->receive_envelope();
    auto const& r = expect_payload<protocol::purge_response>(e);
    BOOST_TEST(e->message_id == "purge");
    BOOST_TEST(r.blobs_deleted == 1u);
    BOOST_TEST(r.device_sync_deleted == 1u);
    BOOST_TEST(r.recovery_proofs_deleted == 1u);
}

BOOST_AUTO_TEST_CASE(noise_client_stores_receives_live_push_and_acks_entirely_encrypted)
{
    relay_process relay;
    auto const key = logged_noise_key(relay);
    std::string const alice = random_id(), bob = random_id();
    auto a = connect_noise_as(relay.port(), key, alice);
    auto b = connect_noise_as(relay.port(), key, bob); // live on some worker
    auto const data = random_bytes(4000);
    a->send_binary(update_frame(bob, data, "n1"));
    expect_ack(*a, "n1", ack_status::stored);
    auto const pushed = b->receive_envelope();
    auto const& u = expect_payload<protocol::encrypted_update>(pushed);
    BOOST_TEST(u.ciphertext == data, boost::test_tools::per_element());
    expect_ack(*a, "n1", ack_status::delivered); // D-6 over Noise
    b->send_binary(ack_frame(pushed->message_id, ack_status::received_by_recipient));
    expect_ack(*a, "n1", ack_status::received_by_recipient);
    // A forged transport message is dropped silently and the session goes on.
    b->send_raw(std::string(40, 'x'));
    b->send_binary(update_frame(alice, {7}, "n2"));
    expect_ack(*b, "n2", ack_status::stored);
    // The key survives a restart (relay_noise_key.bin) and is served at /pubkey.
    relay.restart();
    BOOST_TEST((logged_noise_key(relay) == key));
    std::string const pubkey = http_get(relay.metrics_port(), "/pubkey");
    BOOST_TEST(pubkey.find("\r\n\r\n" + relay::noise::base64url_encode(key)) != std::string::npos);
    auto a2 = connect_noise_as(relay.port(), key, alice);
    auto const e = a2->receive_envelope();
    BOOST_TEST(expect_payload<protocol::encrypted_update>(e).ciphertext == std::vector<std::uint8_t>{7},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(delivered_follows_only_a_frame_that_was_written_to_the_recipient)
{
    // Q-8: a delivery too large for one Noise message is skipped over Noise.
    // Its sender must not hear Delivered until the frame is really written,
    // here when the recipient comes back over a plain (v1) connection.
    relay_process relay;
    auto const key = logged_noise_key(relay);
    std::string const alice = random_id(), bob = random_id();
    auto a = connect_as(relay.port(), alice);
    std::set<std::string> small, large;
    for (int i = 0; i < 9; ++i) {
        bool const too_large = i % 2 == 1 && i < 8; // 4 of 9
        std::string const id = (too_large ? "large-" : "small-") + std::to_string(i);
        a->send_binary(update_frame(bob, random_bytes(too_large ? 70'000 : 100), id));
        expect_ack(*a, id, ack_status::stored);
        (too_large ? large : small).insert(id);
    }
    auto const delivered_acks = [&](std::chrono::milliseconds quiet) {
        std::set<std::string> ids;
        while (auto const e = a->receive_envelope(quiet)) {
            auto const& ack = expect_payload<protocol::acknowledgment>(e);
            BOOST_TEST(protocol::to_string(ack.status) == "Delivered");
            BOOST_TEST(ids.insert(ack.message_id).second, "Delivered twice for " << ack.message_id);
        }
        return ids;
    };
    {
        auto b = connect_noise_as(relay.port(), key, bob);
        for (int i = 0; i < 5; ++i)
            BOOST_TEST(b->receive_envelope().has_value());
        BOOST_TEST(b->silent_for(300ms));
        BOOST_TEST(delivered_acks(500ms) == small, boost::test_tools::per_element());
    }
    auto b = connect_as(relay.port(), bob);
    for (int i = 0; i < 9; ++i)
        BOOST_TEST(b->receive_envelope().has_value());
    BOOST_TEST(delivered_acks(500ms) == large, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_noise_key_set_in_the_config_file_is_the_one_used)
{
    // The systemd unit passes its settings with --config: the key set there
    // must win over the key file, like the variable does (§9.3).
    std::vector<std::uint8_t> pair = random_bytes(64);
    std::array<std::uint8_t, 32> expected{};
    std::copy(pair.begin() + 32, pair.end(), expected.begin()); // the public half is taken as is
    std::string const path =
        std::filesystem::temp_directory_path() / ("vauchi-noise-" + random_id().substr(0, 8) + ".env");
    {
        std::ofstream out(path);
        out << "RELAY_NOISE_STATIC_KEY=" << relay::noise::base64url_encode(pair) << "\n";
    }
    relay_options options;
    options.extra_args = {"--config", path};
    relay_process relay(options);
    BOOST_TEST((logged_noise_key(relay) == expected));
    BOOST_TEST(relay.log().find("from RELAY_NOISE_STATIC_KEY") != std::string::npos);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(noise_opening_with_the_wrong_key_or_a_plaintext_handshake_after_it_closes)
{
    relay_options options;
    options.env["RELAY_REQUIRE_NOISE_ENCRYPTION"] = "true";
    relay_process relay(options);
    std::array<std::uint8_t, 32> wrong{};
    wrong[0] = 9;
    {
        ws_client c(relay.port(), "/ws");
        BOOST_TEST(!c.noise_handshake(wrong));
    }
    {
        ws_client c(relay.port(), "/ws");
        BOOST_TEST(c.noise_handshake(logged_noise_key(relay)));
        c.send_raw(handshake_frame(random_id())); // not encrypted: [CLOSE]
        BOOST_TEST(c.closed_within(3000ms));
    }
    {
        ws_client c(relay.port(), "/ws"); // Noise required: a v1 opening is dropped
        c.send_binary(handshake_frame(random_id()));
        BOOST_TEST(c.closed_within(3000ms));
    }
    auto ok = connect_noise_as(relay.port(), logged_noise_key(relay), random_id());
}

BOOST_AUTO_TEST_CASE(metrics_listener_serves_summed_counters_pubkey_and_index)
{
    relay_options options;
    options.env["RELAY_METRICS_TOKEN"] = "s3cret";
    relay_process relay(options);
    BOOST_REQUIRE(relay.metrics_port() != 0);
    std::string const recipient = random_id();
    for (int i = 0; i < 6; ++i) { // six connections land on several workers
        auto s = connect_as(relay.port(), random_id());
        s->send_binary(update_frame(recipient, {1, 2}, "m"));
        expect_ack(*s, "m", ack_status::stored);
    }
    std::string const denied = http_get(relay.metrics_port(), "/metrics");
    BOOST_TEST(denied.starts_with("HTTP/1.1 401"));
    BOOST_TEST(denied.find("WWW-Authenticate: Bearer") != std::string::npos);
    BOOST_TEST(
        http_get(relay.metrics_port(), "/metrics", "Authorization: bearer s3cret\r\n").starts_with("HTTP/1.1 401"));
    std::string const text = http_get(relay.metrics_port(), "/metrics", "Authorization: Bearer s3cret\r\n");
    BOOST_TEST(text.starts_with("HTTP/1.1 200"));
    BOOST_TEST(text.find("text/plain; version=0.0.4") != std::string::npos);
    BOOST_TEST(metric(text, "relay_blobs_created_total") == 6u);
    BOOST_TEST(metric(text, "relay_blobs_stored") == 6u);
    BOOST_TEST(metric(text, "relay_connections_total") >= 6u);
    BOOST_TEST(metric(text, "relay_messages_received_total") == 6u);
    BOOST_TEST(metric(text, "relay_message_duration_seconds_count") == 6u);
    BOOST_TEST(text.find("# TYPE relay_message_duration_seconds histogram") != std::string::npos);
    for (int w = 0; w < 4; ++w)
        BOOST_TEST(text.find("relay_worker_up{worker=\"" + std::to_string(w) + "\"} 1") != std::string::npos);

    std::string const index = http_get(relay.metrics_port(), "/");
    BOOST_TEST(
        index.find(R"({"service":"vauchi-relay-metrics","version":"1.1.0","endpoints":["/metrics","/pubkey"]})") !=
        std::string::npos);
    BOOST_TEST(http_get(relay.metrics_port(), "/pubkey").starts_with("HTTP/1.1 200")); // unprotected
    BOOST_TEST(http_get(relay.metrics_port(), "/health").starts_with("HTTP/1.1 404"));
    // Ours: readiness for a load balancer (docs/protocol.md#s11-2).
    BOOST_TEST(http_get(relay.metrics_port(), "/ready").starts_with("HTTP/1.1 200"));
    for (std::string path : {"/metrics", "/pubkey", "/"}) {
        // With a body too: it is read and ignored, not a reason to hang up.
        auto const reply =
            raw_exchange(relay.metrics_port(),
                         "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody");
        BOOST_TEST(reply.starts_with("HTTP/1.1 405"), path);
        BOOST_TEST(reply.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos, path);
    }
    BOOST_TEST(raw_exchange(relay.metrics_port(), "PUT /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                   .starts_with("HTTP/1.1 404"));
}

BOOST_AUTO_TEST_CASE(non_loopback_listen_address_without_tls_verified_refuses_to_start)
{
    relay_options options;
    options.listen = "0.0.0.0:0"; // §12.3; nothing is bound: the check comes before any socket
    options.expect_ready = false;
    relay_process relay(options);
    int const status = relay.wait_exit();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
    BOOST_TEST(relay.log().find("RELAY_TLS_VERIFIED") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
