// Handler tests of the parity features: device sync (§7.6–7.7), recovery
// proofs and their rate limit (§7.8–7.9, §10.3), purge of every kind (§7.10)
// and the shared nonce window of signed handshakes (§5 step 3, D-10, D-11).

#include <algorithm>

#include "../common/ed25519_identity.hpp"
#include "handler_fixture.hpp"

using namespace handler_testing;

namespace {

std::string const phone(64, 'e');
std::string const tablet(64, 'f');
std::string const key_hash_a = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string device_sync_frame(std::string const& id, std::string const& identity, std::string const& target,
                              std::string const& sender_device, std::uint64_t version, protocol::bytes payload)
{
    protocol::device_sync_message m;
    m.identity_id = identity;
    m.target_device_id = target;
    m.sender_device_id = sender_device;
    m.encrypted_payload = std::move(payload);
    m.version = version;
    return frame_of(id, m);
}

std::string device_sync_ack_frame(std::string const& message_id)
{
    protocol::device_sync_ack a;
    a.message_id = message_id;
    a.synced_version = 1;
    return frame_of(relay::random::new_uuid_string(), a);
}

std::string proof_store_frame(std::string const& id, std::string const& key_hash, protocol::bytes proof)
{
    protocol::recovery_proof_store m;
    m.key_hash = key_hash;
    m.proof_data = std::move(proof);
    return frame_of(id, m);
}

std::string proof_query_frame(std::vector<std::string> hashes)
{
    protocol::recovery_proof_query q;
    q.key_hashes = std::move(hashes);
    return frame_of(relay::random::new_uuid_string(), q);
}

protocol::handshake with_device(std::string const& client_id, std::string const& device_id)
{
    auto h = hello(client_id);
    h.device_id = device_id;
    return h;
}

template <class T>
T const& body_of(protocol::envelope const& e)
{
    auto const* b = std::get_if<T>(&e.body);
    BOOST_TEST_REQUIRE(b != nullptr);
    return *b;
}

/// A fresh identity signing handshakes at the relay's current time.
class identity {
public:
    std::string client_id() const { return id_.client_id(); }
    protocol::handshake hello_signed(std::array<std::uint8_t, 32> const& nonce) const
    {
        auto const auth = id_.sign(nonce, worker_services::now_unix());
        auto h = hello(client_id());
        h.identity_public_key = auth.identity_public_key;
        h.nonce = auth.nonce;
        h.signature = auth.signature;
        h.timestamp = auth.timestamp;
        return h;
    }

private:
    relay::testing::ed25519_identity id_;
};

std::array<std::uint8_t, 32> random_nonce()
{
    std::array<std::uint8_t, 32> n{};
    for (auto& b : n)
        b = static_cast<std::uint8_t>(relay::random::u64());
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(parity)

// ===================== signed handshake: nonce window (§5, D-10) =====================

BOOST_FIXTURE_TEST_CASE(freshly_signed_handshake_is_accepted_once_and_its_replay_closes, relay_fixture)
{
    identity const id;
    auto const nonce = random_nonce();
    auto const h = id.hello_signed(nonce);
    auto first = connect(h);
    BOOST_TEST(first->handler.handshaken());

    client replay(services);
    BOOST_TEST((replay.handler.on_handshake(frame_of("hs", h)) == verdict::close));
    BOOST_TEST(replay.sink.silent());
    // The same identity with a new nonce is fine.
    auto again = connect(id.hello_signed(random_nonce()));
    BOOST_TEST(again->handler.handshaken());
}

BOOST_FIXTURE_TEST_CASE(replay_is_caught_by_another_worker_sharing_the_store, relay_fixture)
{
    identity const id;
    auto const h = id.hello_signed(random_nonce());
    auto first = connect(h);
    // Worker slot 1 over the same store: its own services, same nonce window.
    worker_services other(cfg, seg.base(), 1, event_fds, 1700000000);
    client replay(other);
    BOOST_TEST((replay.handler.on_handshake(frame_of("hs", h)) == verdict::close));
}

BOOST_FIXTURE_TEST_CASE(a_handshake_with_a_bad_signature_does_not_burn_the_nonce, relay_fixture)
{
    identity const id, attacker;
    auto const nonce = random_nonce();
    auto forged = attacker.hello_signed(nonce);
    forged.client_id = id.client_id(); // attacker's signature under the victim's id
    forged.identity_public_key = id.client_id();
    client bad(services);
    BOOST_TEST((bad.handler.on_handshake(frame_of("hs", forged)) == verdict::close));
    // D-10: the victim's genuine handshake with that nonce still works.
    auto good = connect(id.hello_signed(nonce));
    BOOST_TEST(good->handler.handshaken());
}

// ===================== device sync (§7.6, §7.7, D-9) =====================

BOOST_FIXTURE_TEST_CASE(device_sync_is_stored_and_delivered_to_the_target_device_in_version_order, relay_fixture)
{
    auto sender = connect(with_device(alice, phone));
    sender->handler.on_message(device_sync_frame("ds-1", alice, tablet, phone, 7, {7}));
    sender->handler.on_message(device_sync_frame("ds-2", alice, tablet, phone, 3, {3}));
    sender->handler.on_message(device_sync_frame("ds-3", alice, phone, phone, 1, {1})); // for the phone itself
    BOOST_TEST_REQUIRE(sender->sink.frames.size() == 3u);
    BOOST_TEST(status_of(sender->sink.frames[0]) == "Stored");
    BOOST_TEST(ack_in(sender->sink.frames[1]).message_id == "ds-2");
    BOOST_TEST(sender->sink.blobs.empty()); // never pushed live (§7.6)

    auto other = connect(bob);
    store_from(*other, "u-1", alice, {9}); // an ordinary blob comes first
    auto c = connect(with_device(alice, tablet));
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 3u);
    BOOST_TEST(update_in(deliver(*c, 0)).ciphertext == protocol::bytes{9}, boost::test_tools::per_element());
    std::vector<std::uint64_t> versions;
    for (std::size_t i = 1; i < 3; ++i) {
        auto const e = deliver(*c, i);
        auto const& m = body_of<protocol::device_sync_message>(e);
        BOOST_TEST(is_uuid(e.message_id));
        BOOST_TEST(m.identity_id == alice);
        BOOST_TEST(m.target_device_id == tablet);
        BOOST_TEST(m.sender_device_id == phone);
        BOOST_TEST(m.encrypted_payload == protocol::bytes{static_cast<std::uint8_t>(m.version)},
                   boost::test_tools::per_element());
        versions.push_back(m.version);
    }
    BOOST_TEST(versions == (std::vector<std::uint64_t>{3, 7}), boost::test_tools::per_element());
    // Without a device_id nothing device-sync is delivered.
    auto plain = connect(alice);
    BOOST_TEST(plain->sink.blobs.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(device_sync_for_another_identity_is_silent_and_bad_device_ids_fail, relay_fixture)
{
    auto c = connect(with_device(alice, phone));
    c->handler.on_message(device_sync_frame("x", bob, tablet, phone, 1, {1}));
    BOOST_TEST(c->sink.frames.empty());
    c->handler.on_message(device_sync_frame("y", alice, "not-a-device", phone, 1, {1}));
    c->handler.on_message(device_sync_frame("z", alice, tablet, std::string(64, 'g'), 1, {1}));
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 2u);
    BOOST_TEST(status_of(c->sink.frames[0]) == "Failed");
    BOOST_TEST(status_of(c->sink.frames[1]) == "Failed");
    BOOST_TEST(store().pending_count(shm::blob_kind::device_sync, alice) == 0u);
    BOOST_TEST(store().pending_count(shm::blob_kind::device_sync, bob) == 0u);
}

BOOST_FIXTURE_TEST_CASE(device_sync_ack_deletes_only_from_the_named_device, relay_fixture)
{
    auto sender = connect(with_device(alice, phone));
    sender->handler.on_message(device_sync_frame("ds", alice, tablet, phone, 1, {1}));
    auto c = connect(with_device(alice, tablet));
    BOOST_TEST_REQUIRE(c->sink.blobs.size() == 1u);
    std::string const id = deliver(*c, 0).message_id;

    sender->handler.on_message(device_sync_ack_frame(id)); // the phone cannot ack the tablet's message
    auto no_device = connect(alice);
    no_device->handler.on_message(device_sync_ack_frame(id)); // nor a connection without a device_id
    BOOST_TEST(store().pending_count(shm::blob_kind::device_sync, alice) == 1u);
    c->handler.on_message(device_sync_ack_frame(id));
    BOOST_TEST(c->sink.frames.empty()); // [SILENT]
    BOOST_TEST(store().pending_count(shm::blob_kind::device_sync, alice) == 0u);
}

// ===================== recovery proofs (§7.8, §7.9, §10.3) =====================

BOOST_FIXTURE_TEST_CASE(recovery_proof_is_stored_replaced_and_returned_under_lowercase_hex, relay_fixture)
{
    auto c = connect(alice);
    c->handler.on_message(proof_store_frame("p-1", key_hash_a, {1, 2}));
    c->handler.on_message(proof_store_frame("p-2", uppercase(key_hash_a), {3, 4})); // same hash, replaces
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 2u);
    BOOST_TEST(ack_in(c->sink.frames[1]).message_id == "p-2");
    BOOST_TEST(status_of(c->sink.frames[1]) == "Stored");
    c->sink.frames.clear();

    auto q = connect(bob); // anyone may query (§7.9, Q-19)
    std::string const query_frame =
        proof_query_frame({uppercase(key_hash_a), key_hash_a, "junk", std::string(64, '9')});
    q->handler.on_message(query_frame);
    BOOST_TEST_REQUIRE(q->sink.frames.size() == 1u);
    auto const e = decoded(q->sink.frames[0]);
    BOOST_TEST(is_uuid(e.message_id));
    BOOST_TEST(e.message_id != decoded(query_frame).message_id); // a fresh id
    auto const& r = body_of<protocol::recovery_proof_response>(e);
    BOOST_TEST_REQUIRE(r.proofs.size() == 1u); // duplicates collapse, junk and misses skipped
    BOOST_TEST(r.proofs[0].key_hash == key_hash_a);
    BOOST_TEST(r.proofs[0].proof_data == (protocol::bytes{3, 4}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(empty_query_gets_an_empty_response_and_bad_key_hash_is_silent, relay_fixture)
{
    auto c = connect(alice);
    c->handler.on_message(proof_query_frame({}));
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 1u);
    BOOST_TEST(body_of<protocol::recovery_proof_response>(decoded(c->sink.frames[0])).proofs.empty());
    c->sink.frames.clear();
    c->handler.on_message(proof_store_frame("p", "abc", {1}));
    BOOST_TEST(c->sink.frames.empty());
}

BOOST_FIXTURE_TEST_CASE(recovery_messages_have_their_own_bucket_and_a_bad_hash_spends_a_token, relay_fixture)
{
    cfg.recovery_rate_limit = 2;
    auto c = connect(alice);
    c->handler.on_message(proof_store_frame("bad", "nothex", {1})); // spends recovery token 1
    c->handler.on_message(proof_query_frame({key_hash_a}));         // token 2: answered
    c->handler.on_message(proof_query_frame({key_hash_a}));         // none left: silent
    c->handler.on_message(proof_store_frame("p", key_hash_a, {1})); // silent, nothing stored
    BOOST_TEST(c->sink.frames.size() == 1u);
    BOOST_TEST(store().pending_count(shm::blob_kind::recovery_proof, key_hash_a) == 0u);
    // The general bucket is untouched by the recovery limit: an update still goes through.
    c->handler.on_message(update("u", bob, {1}));
    BOOST_TEST_REQUIRE(c->sink.frames.size() == 2u);
    BOOST_TEST(status_of(c->sink.frames[1]) == "Stored");
    // Another routing id has its own recovery bucket.
    auto other = connect(bob);
    other->handler.on_message(proof_query_frame({}));
    BOOST_TEST(other->sink.frames.size() == 1u);
}

// ===================== purge (§7.10) =====================

BOOST_FIXTURE_TEST_CASE(purge_deletes_each_kind_only_when_asked, relay_fixture)
{
    auto sender = connect(bob);
    store_from(*sender, "u", alice, {1});
    auto c = connect(with_device(alice, phone));
    c->handler.on_message(device_sync_frame("d1", alice, tablet, phone, 1, {1}));
    c->handler.on_message(device_sync_frame("d2", alice, phone, phone, 1, {1}));
    c->handler.on_message(proof_store_frame("p", key_hash_a, {1}));
    c->sink.frames.clear();

    protocol::purge_request only_blobs;
    c->handler.on_message(frame_of("purge-1", only_blobs));
    protocol::purge_request everything;
    everything.include_device_sync = true;
    everything.include_recovery_proofs = true;
    everything.recovery_key_hash = uppercase(key_hash_a);
    c->handler.on_message(frame_of("purge-2", everything));
    protocol::purge_request proofs_without_hash;
    proofs_without_hash.include_recovery_proofs = true;
    c->handler.on_message(frame_of("purge-3", proofs_without_hash));

    BOOST_TEST_REQUIRE(c->sink.frames.size() == 3u);
    auto const first = decoded(c->sink.frames[0]);
    BOOST_TEST(first.message_id == "purge-1");
    auto const& r1 = body_of<protocol::purge_response>(first);
    BOOST_TEST(r1.blobs_deleted == 1u);
    BOOST_TEST(r1.device_sync_deleted == 0u);
    BOOST_TEST(r1.recovery_proofs_deleted == 0u);
    auto const r2 =
        body_of<protocol::purge_response>(decoded(c->sink.frames[1])); // a copy: the envelope is a temporary
    BOOST_TEST(r2.blobs_deleted == 0u);
    BOOST_TEST(r2.device_sync_deleted == 2u); // every device of the identity
    BOOST_TEST(r2.recovery_proofs_deleted == 1u);
    auto const r3 = body_of<protocol::purge_response>(decoded(c->sink.frames[2]));
    BOOST_TEST(r3.recovery_proofs_deleted == 0u);
    BOOST_TEST(store().totals().blobs == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
