#pragma once
// Real store images for the power-loss and damage tests: a store filled and
// emptied by a seeded workload through the real store code, the record every
// blob id was stored with, byte copies of the store's state, and the checks
// an image must pass after recovery (docs/store.md, "Recovery").

#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "shm/device_sync_record.hpp"
#include "shm/stored_record.hpp"
#include "test_store.hpp"

namespace relay::shm::testing {

/// A page-aligned copy of a store's bytes, as a file's pages would hold them.
class store_image {
public:
    store_image(std::uint8_t const* bytes, std::size_t size)
        : size_(size), bytes_(static_cast<std::uint8_t*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096)))
    {
        std::memcpy(bytes_.get(), bytes, size);
    }
    std::uint8_t* data() const { return bytes_.get(); }
    std::size_t size() const { return size_; }
    void copy_from(store_image const& other) { std::memcpy(bytes_.get(), other.data(), size_); }

private:
    struct free_deleter {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    std::size_t size_;
    std::unique_ptr<std::uint8_t, free_deleter> bytes_;
};

using blob_id = std::array<std::uint8_t, 16>;

/// Every record the workload ever stored, by blob id; which are live now.
struct record_registry {
    std::map<blob_id, stored_record> stored;
    std::set<blob_id> live;
    std::vector<std::string> keys;
};

inline bool same_record(stored_record const& a, stored_record const& b)
{
    return a.kind == b.kind && a.key == b.key && a.sender == b.sender && a.sender_message_id == b.sender_message_id &&
        a.blob_id == b.blob_id && a.created_unix == b.created_unix && a.data == b.data;
}

/// Stores `count` records (updates of 50 B to 60 KB log-uniform, some device
/// sync, some proofs that replace their predecessor) for the registry's keys.
inline void store_records(store& st, record_registry& reg, std::mt19937& rng, int count)
{
    std::uniform_real_distribution<double> exponent(std::log(50.0), std::log(60000.0));
    for (int i = 0; i < count; ++i) {
        stored_record r;
        r.key = reg.keys[rng() % reg.keys.size()];
        r.created_unix = 1000 + rng() % 1000;
        auto const n = static_cast<std::size_t>(std::exp(exponent(rng)));
        std::vector<std::uint8_t> payload(n);
        for (auto& b : payload)
            b = static_cast<std::uint8_t>(rng());
        unsigned const pick = rng() % 10;
        put_request rq;
        rq.recipient = r.key;
        rq.now = r.created_unix;
        if (pick < 8) {
            r.kind = blob_kind::update;
            if (pick < 5) {
                r.sender = reg.keys[rng() % reg.keys.size()];
                r.sender_message_id = "m-" + std::to_string(rng());
            }
            r.data = std::move(payload);
        } else if (pick == 8) {
            r.kind = blob_kind::device_sync;
            r.data = device_sync_record::pack(reg.keys[0], reg.keys[1], rng() % 100, payload);
        } else {
            r.kind = blob_kind::recovery_proof;
            r.data = std::move(payload);
            rq.replace_existing = true;
            rq.check_byte_quota = false;
        }
        rq.kind = r.kind;
        rq.data = r.data;
        rq.sender = r.sender;
        rq.sender_message_id = r.sender_message_id;
        auto const res = st.put(rq);
        BOOST_REQUIRE(res.status == put_status::stored);
        r.blob_id = res.blob_id;
        if (r.kind == blob_kind::recovery_proof) // the older proof of the key is gone
            for (auto it = reg.live.begin(); it != reg.live.end();)
                it = reg.stored[*it].kind == blob_kind::recovery_proof && reg.stored[*it].key == r.key
                    ? reg.live.erase(it)
                    : std::next(it);
        reg.live.insert(res.blob_id);
        reg.stored[res.blob_id] = std::move(r);
    }
}

/// Deletes `count` live updates, chosen at random (their chunks are then reused).
inline void delete_records(store& st, record_registry& reg, std::mt19937& rng, int count)
{
    std::vector<blob_id> updates;
    for (auto const& id : reg.live)
        if (reg.stored[id].kind == blob_kind::update)
            updates.push_back(id);
    std::shuffle(updates.begin(), updates.end(), rng);
    for (int i = 0; i < count && i < static_cast<int>(updates.size()); ++i) {
        BOOST_REQUIRE(st.remove(reg.stored[updates[i]].key, updates[i]).removed);
        reg.live.erase(updates[i]);
    }
}

/// What a recovered store holds, checked against what was ever stored:
/// every record is one that was stored, byte for byte, under its blob id,
/// and reads back the same through a delivery. Returns the blob ids found.
inline std::set<blob_id> check_recovered(store& st, record_registry const& reg)
{
    std::set<blob_id> found;
    st.for_each_record([&](stored_record const& r) {
        auto const it = reg.stored.find(r.blob_id);
        BOOST_REQUIRE_MESSAGE(it != reg.stored.end(), "a record with a blob id never stored");
        BOOST_REQUIRE_MESSAGE(same_record(r, it->second), "a record whose bytes are not what was stored");
        found.insert(r.blob_id);
    });
    // Deliveries read the same bytes, each under the recipient it was stored for.
    for (auto const& key : reg.keys) {
        auto const a = st.attach(key, 0);
        for (auto const& ref : a.pending) {
            auto const d = st.fetch(ref, key);
            BOOST_REQUIRE(d.has_value());
            auto const it = reg.stored.find(d->blob_id);
            BOOST_REQUIRE(it != reg.stored.end());
            BOOST_REQUIRE(it->second.key == key && it->second.data == d->data);
        }
        st.detach(key, 0);
    }
    return found;
}

} // namespace relay::shm::testing
