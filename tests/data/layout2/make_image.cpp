// Makes tests/data/layout2/store.gz: a real store of layout version 2 (the
// format of every release before Store v2), written by that code itself, and
// manifest.txt, the records it holds. Kept for the record: it builds only
// against the tree it was made with (commit f4d7744, "ws_session: one
// release_if_larger ..."), from the repository root:
//
//   g++ -std=c++20 -O1 -I. tests/data/layout2/make_image.cpp \
//       build-test/shm/librelay_shm.a build-test/common/librelay_common.a -o /tmp/make_image
//   /tmp/make_image /tmp/layout2 && gzip -9 -c /tmp/layout2/store > tests/data/layout2/store.gz
//
// The migration test (tests/integration/migration_test.cpp) starts the
// current relay on this image and checks every record of the manifest.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/random.hpp"
#include "shm/device_sync_record.hpp"
#include "shm/segment.hpp"
#include "shm/store.hpp"

using namespace relay;

namespace {

std::string hex_key(unsigned n, char prefix)
{
    char buf[65];
    std::snprintf(buf, sizeof buf, "%c%063x", prefix, n);
    return buf;
}

std::vector<std::uint8_t> bytes_of(std::size_t n, unsigned seed)
{
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 8));
    return v;
}

std::string hex(std::uint8_t const* p, std::size_t n)
{
    std::string s;
    char b[3];
    for (std::size_t i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "%02x", p[i]);
        s += b;
    }
    return s;
}

} // namespace

int main(int argc, char** argv)
{
    std::string const dir = argc > 1 ? argv[1] : "/tmp/layout2";
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir + "/store");
    shm::geometry g;
    g.shard_count = 4;
    g.arena_bytes = 16u << 20;
    g.rate_table_entries = 1024;
    g.mailbox_capacity = 256;
    g.presence_capacity = 64;
    bool created = false;
    auto seg = shm::segment::open_or_create_file(dir + "/store", g, created);
    shm::store st(seg.base());
    st.reinit_locks();
    FILE* manifest = std::fopen((dir + "/manifest.txt").c_str(), "w");
    std::fprintf(manifest, "# kind key blob_id created size seed has_sender sender sender_message_id delivered_sent\n");
    // Sizes across every chunk class and multi-chunk chains up to 200 KB.
    std::size_t const sizes[] = {0, 1, 100, 255, 256, 700, 4000, 4096, 9000, 40000, 65536, 70000, 150000};
    unsigned seed = 1;
    std::uint64_t now = 1764000000;
    struct kept { shm::put_result r; std::string key; };
    std::vector<kept> deletable;
    for (unsigned r = 0; r < 12; ++r) {
        std::string const recipient = hex_key(r, 'a');
        for (unsigned i = 0; i < 5; ++i, ++seed, ++now) {
            std::size_t const n = sizes[(r * 5 + i) % std::size(sizes)];
            auto const data = bytes_of(n, seed);
            std::string const sender = hex_key(100 + r, 'b');
            std::string const msgid = random::new_uuid_string();
            bool const with_sender = (seed % 3) != 0;
            shm::put_request rq;
            rq.kind = shm::blob_kind::update;
            rq.recipient = recipient;
            rq.data = data;
            if (with_sender) {
                rq.sender = sender;
                rq.sender_message_id = msgid;
            }
            rq.now = now;
            auto const res = st.put(rq);
            if (res.status != shm::put_status::stored)
                return 1;
            if (seed % 7 == 0) { // deleted again: must not come back
                deletable.push_back({res, recipient});
                continue;
            }
            bool delivered = false;
            if (with_sender && seed % 4 == 0) { // handed over once: Delivered already sent
                st.fetch(res.ref, recipient, true);
                delivered = true;
            }
            std::fprintf(manifest, "update %s %s %llu %zu %u %d %s %s %d\n", recipient.c_str(),
                         hex(res.blob_id.data(), 16).c_str(), static_cast<unsigned long long>(now), n, seed,
                         with_sender ? 1 : 0, with_sender ? sender.c_str() : "-", with_sender ? msgid.c_str() : "-",
                         delivered ? 1 : 0);
        }
    }
    for (auto const& d : deletable)
        if (!st.remove(d.key, d.r.blob_id).removed)
            return 2;
    // Device-sync messages for two identities, two devices each.
    for (unsigned c = 0; c < 2; ++c) {
        std::string const client = hex_key(c, 'c');
        for (unsigned v = 0; v < 4; ++v, ++seed, ++now) {
            std::string const target = hex_key(v % 2, 'd');
            std::string const from = hex_key(9, 'e');
            auto const payload = bytes_of(50 + v * 3000, seed);
            auto const data = shm::device_sync_record::pack(target, from, 10 - v, payload);
            shm::put_request rq;
            rq.kind = shm::blob_kind::device_sync;
            rq.recipient = client;
            rq.data = data;
            rq.now = now;
            auto const res = st.put(rq);
            if (res.status != shm::put_status::stored)
                return 3;
            std::fprintf(manifest, "device_sync %s %s %llu %zu %u target=%s from=%s version=%u\n", client.c_str(),
                         hex(res.blob_id.data(), 16).c_str(), static_cast<unsigned long long>(now), payload.size(),
                         seed, target.c_str(), from.c_str(), 10 - v);
        }
    }
    // Recovery proofs: the second replaces the first.
    std::string const key_hash = hex_key(5, 'f');
    for (unsigned i = 0; i < 2; ++i, ++seed, ++now) {
        auto const data = bytes_of(300, seed);
        shm::put_request rq;
        rq.kind = shm::blob_kind::recovery_proof;
        rq.recipient = key_hash;
        rq.data = data;
        rq.now = now;
        rq.check_byte_quota = false;
        rq.replace_existing = true;
        auto const res = st.put(rq);
        if (res.status != shm::put_status::stored)
            return 4;
        if (i == 1)
            std::fprintf(manifest, "recovery_proof %s %s %llu %zu %u\n", key_hash.c_str(),
                         hex(res.blob_id.data(), 16).c_str(), static_cast<unsigned long long>(now), data.size(), seed);
    }
    std::string why;
    if (!st.check_all(why)) {
        std::fprintf(stderr, "check: %s\n", why.c_str());
        return 5;
    }
    std::fclose(manifest);
    st.header().clean_shutdown.store(1);
    seg.flush_async();
    auto const t = st.totals();
    std::printf("layout %u store: %llu records, %llu data bytes\n", st.header().version,
                static_cast<unsigned long long>(t.blobs), static_cast<unsigned long long>(t.data_bytes));
    return 0;
}
