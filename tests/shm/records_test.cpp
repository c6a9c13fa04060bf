// Device-sync messages and recovery proofs in the store (docs/protocol.md#s7-6–7.9):
// their own mailboxes beside updates, delivery order, acks, replacement,
// expiry, and repair keeping every kind where it was.

#include <boost/test/unit_test.hpp>

#include "shm/device_sync_record.hpp"
#include "shm/sweep.hpp"
#include "test_store.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

namespace {

struct kept_record {
    std::vector<std::uint8_t> data;
    put_request rq;
};

put_result put_device_sync(store& st, std::string const& client, std::string const& target, std::uint64_t version,
                           std::uint8_t seed, std::uint64_t now = 1000)
{
    auto const data = device_sync_record::pack(target, key('s'), version, bytes_of(50, seed));
    put_request rq;
    rq.kind = blob_kind::device_sync;
    rq.recipient = client;
    rq.data = data;
    rq.now = now;
    return st.put(rq);
}

put_result put_proof(store& st, std::string const& hash, std::vector<std::uint8_t> const& proof, std::uint64_t now)
{
    put_request rq;
    rq.kind = blob_kind::recovery_proof;
    rq.recipient = hash;
    rq.data = proof;
    rq.now = now;
    rq.replace_existing = true;
    return st.put(rq);
}

std::uint64_t count_of(store const& st, blob_kind k) { return st.totals().by_kind[static_cast<std::size_t>(k)]; }

} // namespace

BOOST_AUTO_TEST_SUITE(records)

BOOST_AUTO_TEST_CASE(device_sync_is_listed_for_its_target_device_by_version_then_arrival)
{
    scratch_store s;
    put_device_sync(s.st, key('c'), key('1'), 5, 1);
    put_device_sync(s.st, key('c'), key('2'), 1, 2); // other device
    put_device_sync(s.st, key('c'), key('1'), 2, 3);
    put_device_sync(s.st, key('c'), key('1'), 5, 4); // same version, later
    put_device_sync(s.st, key('d'), key('1'), 0, 5); // other identity
    auto const listed = s.st.list_device_sync(key('c'), key('1'));
    BOOST_TEST_REQUIRE(listed.size() == 3u);
    std::vector<std::uint8_t> seeds;
    for (auto const& r : listed) {
        auto d = s.st.fetch(r.ref, blob_kind::device_sync, key('c'));
        BOOST_TEST_REQUIRE(d.has_value());
        device_sync_record::view v;
        BOOST_TEST_REQUIRE(device_sync_record::unpack(d->data, v));
        BOOST_TEST(v.target_device_id == key('1'));
        BOOST_TEST(v.sender_device_id == key('s'));
        BOOST_TEST(v.version == r.version);
        seeds.push_back(v.payload[0]);
    }
    BOOST_TEST(seeds == (std::vector<std::uint8_t>{3, 1, 4}), boost::test_tools::per_element());
    // Not visible as updates of that id, and an update fetch of it fails.
    BOOST_TEST(s.st.attach(key('c'), 0).pending.empty());
    BOOST_TEST(!s.st.fetch(listed[0].ref, key('c')).has_value());
    BOOST_TEST(verified(s.st));
}

BOOST_AUTO_TEST_CASE(device_sync_ack_deletes_only_for_the_target_device)
{
    scratch_store s;
    auto const r = put_device_sync(s.st, key('c'), key('1'), 1, 1);
    BOOST_TEST(!s.st.remove_device_sync(key('c'), key('2'), r.blob_id));
    BOOST_TEST(!s.st.remove_device_sync(key('d'), key('1'), r.blob_id));
    BOOST_TEST(!s.st.remove(key('c'), r.blob_id).removed); // an update Acknowledgment cannot reach it
    BOOST_TEST(s.st.remove_device_sync(key('c'), key('1'), r.blob_id));
    BOOST_TEST(s.st.list_device_sync(key('c'), key('1')).empty());
}

BOOST_AUTO_TEST_CASE(purge_of_one_kind_leaves_the_others)
{
    scratch_store s;
    auto const update = bytes_of(10, 1);
    s.st.put(request(key('c'), update));
    put_device_sync(s.st, key('c'), key('1'), 1, 1);
    put_device_sync(s.st, key('c'), key('2'), 1, 1);
    put_proof(s.st, key('c'), bytes_of(5, 1), 1000);
    BOOST_TEST(s.st.purge(blob_kind::device_sync, key('c')) == 2u);
    BOOST_TEST(s.st.pending_count(key('c')) == 1u);
    BOOST_TEST(s.st.pending_count(blob_kind::recovery_proof, key('c')) == 1u);
    BOOST_TEST(s.st.purge(key('c')) == 1u);
    BOOST_TEST(s.st.purge(blob_kind::recovery_proof, key('c')) == 1u);
    BOOST_TEST(s.st.totals().blobs == 0u);
}

BOOST_AUTO_TEST_CASE(recovery_proof_is_replaced_and_found_only_while_fresh)
{
    scratch_store s;
    put_proof(s.st, key('h'), bytes_of(5, 1), 1000);
    put_proof(s.st, key('h'), bytes_of(7, 2), 1010);
    BOOST_TEST(s.st.pending_count(blob_kind::recovery_proof, key('h')) == 1u);
    auto const found = s.st.find_recovery_proof(key('h'), 0);
    BOOST_TEST_REQUIRE(found.has_value());
    BOOST_TEST((*found == bytes_of(7, 2)));
    BOOST_TEST(!s.st.find_recovery_proof(key('h'), 1010).has_value()); // created at or before: expired
    BOOST_TEST(!s.st.find_recovery_proof(key('i'), 0).has_value());
    BOOST_TEST(count_of(s.st, blob_kind::recovery_proof) == 1u);
}

BOOST_AUTO_TEST_CASE(sweep_expires_proofs_after_ninety_days_whatever_the_blob_ttl)
{
    scratch_store s;
    std::uint64_t const t0 = 1'000'000;
    auto const data = bytes_of(10, 1);
    s.st.put(request(key('a'), data, t0));
    put_device_sync(s.st, key('a'), key('1'), 1, 1, t0);
    put_proof(s.st, key('a'), bytes_of(5, 1), t0);
    auto stats = sweep_expired(s.st, t0 + 100, 100); // blob TTL 100 s
    BOOST_TEST(stats.expired_by_kind[0] == 1u);
    BOOST_TEST(stats.expired_by_kind[1] == 1u);
    BOOST_TEST(stats.expired_by_kind[2] == 0u);
    stats = sweep_expired(s.st, t0 + recovery_proof_ttl_secs, 100);
    BOOST_TEST(stats.expired_by_kind[2] == 1u);
    BOOST_TEST(s.st.totals().blobs == 0u);
}

BOOST_AUTO_TEST_CASE(rebuild_keeps_every_kind_in_its_own_mailbox)
{
    scratch_store s;
    auto const update = bytes_of(10, 1);
    s.st.put(request(key('c'), update));
    put_device_sync(s.st, key('c'), key('1'), 3, 1);
    put_device_sync(s.st, key('c'), key('1'), 2, 2);
    put_proof(s.st, key('c'), bytes_of(5, 1), 1000);
    auto const stats = s.st.rebuild_all({});
    BOOST_TEST(stats.kept == 4u);
    BOOST_TEST(verified(s.st));
    BOOST_TEST(s.st.pending_count(key('c')) == 1u);
    BOOST_TEST(s.st.list_device_sync(key('c'), key('1')).size() == 2u);
    BOOST_TEST(s.st.find_recovery_proof(key('c'), 0).has_value());
    BOOST_TEST(count_of(s.st, blob_kind::update) == 1u);
    BOOST_TEST(count_of(s.st, blob_kind::device_sync) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
