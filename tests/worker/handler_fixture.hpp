#pragma once
// The handler tests' fixture: a real store in POSIX shm, the services of worker
// slot 0 and a fake transport that records what the handler queues.

#include <boost/test/unit_test.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "common/random.hpp"
#include "shm/layout.hpp"
#include "shm/notify_ring.hpp"
#include "shm/segment.hpp"
#include "shm/store.hpp"
#include "worker/handler.hpp"
#include "worker/handshake_auth.hpp"
#include "worker/protocol/codec.hpp"
#include "worker/services.hpp"
#include "worker/session_sink.hpp"

namespace handler_testing {

namespace protocol = relay::protocol;
namespace shm = relay::shm;
using relay::worker::auth_result;
using relay::worker::check_handshake_auth;
using relay::worker::connection_handler;
using relay::worker::worker_services;
using verdict = connection_handler::verdict;

// ---- identities (hex64, lowercase unless a test says otherwise) ----

inline std::string const alice(64, 'a');
inline std::string const bob(64, 'b');
inline std::string const carol(64, 'c');
inline std::string const token(64, '7');
inline std::string const device(64, 'd');

// ---- the fake transport ----

class fake_sink final : public relay::worker::session_sink {
public:
    using session_sink::send_frame;
    void send_frame(std::string frame, std::uint64_t) override { frames.push_back(std::move(frame)); }
    bool queue_blob(shm::blob_ref const& ref) override
    {
        if (blobs.size() >= blob_room)
            return false;
        blobs.push_back(ref);
        return true;
    }
    void touch() override { ++touches; }

    bool silent() const { return frames.empty() && blobs.empty() && touches == 0; }

    std::vector<std::string> frames;
    std::vector<shm::blob_ref> blobs;
    int touches = 0;
    std::size_t blob_room = SIZE_MAX; ///< queue_blob refuses beyond this many
};

/// One connection: the sink outlives the handler that writes to it.
struct client {
    explicit client(worker_services& services) : handler(services, sink) {}
    fake_sink sink;
    connection_handler handler;
};

// ---- frames in ----

/// `json` behind an exact 4-byte big-endian length prefix.
inline std::string raw_frame(std::string_view json)
{
    auto const n = static_cast<std::uint32_t>(json.size());
    std::string f{static_cast<char>(n >> 24), static_cast<char>(n >> 16 & 0xff), static_cast<char>(n >> 8 & 0xff),
                  static_cast<char>(n & 0xff)};
    f.append(json);
    return f;
}

inline std::string frame_of(std::string message_id, protocol::payload body)
{
    protocol::envelope e;
    e.message_id = std::move(message_id);
    e.timestamp = 1700000000;
    e.body = std::move(body);
    return protocol::encode_frame(e);
}

inline protocol::handshake hello(std::string const& client_id)
{
    protocol::handshake h;
    h.client_id = client_id;
    return h;
}

inline std::string update(std::string const& message_id, std::string const& recipient, protocol::bytes ciphertext)
{
    protocol::encrypted_update u;
    u.recipient_id = recipient;
    u.ciphertext = std::move(ciphertext);
    return frame_of(message_id, u);
}

inline std::string ack_frame(std::string const& acked_id, protocol::ack_status status)
{
    protocol::acknowledgment a;
    a.message_id = acked_id;
    a.status = status;
    return frame_of(relay::random::new_uuid_string(), a);
}

inline std::string purge_frame(std::string const& message_id)
{
    return frame_of(message_id, protocol::purge_request{});
}

// ---- frames out ----

inline protocol::envelope decoded(std::string const& frame)
{
    auto r = protocol::decode_frame(frame);
    BOOST_TEST_REQUIRE(r.has_value());
    return *r;
}

inline protocol::acknowledgment ack_in(std::string const& frame)
{
    auto const e = decoded(frame);
    auto const* a = std::get_if<protocol::acknowledgment>(&e.body);
    BOOST_TEST_REQUIRE(a != nullptr);
    return *a;
}

inline std::string status_of(std::string const& frame) { return protocol::to_string(ack_in(frame).status); }

inline bool is_uuid(std::string const& text)
{
    relay::random::uuid id{};
    return relay::random::parse_uuid(text, id) && relay::random::to_string(id) == text;
}

// ---- a real store in POSIX shm and the services of worker slot 0 ----

inline shm::geometry small_geometry()
{
    shm::geometry g;
    g.shard_count = 4;
    g.arena_bytes = 4u << 20;
    g.rate_table_entries = 1024;
    g.presence_capacity = 64;
    return g;
}

inline std::string unique_segment_name()
{
    static int counter = 0;
    return "/vauchi-relay-worker-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

inline std::vector<int> make_event_fds(int slots)
{
    std::vector<int> fds;
    for (int i = 0; i < slots; ++i)
        fds.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    return fds;
}

struct relay_fixture {
    relay_fixture()
        : name(unique_segment_name()), seg(shm::segment::create_memory(name, small_geometry())),
          event_fds(make_event_fds(2)), services(cfg, seg.base(), 0, event_fds, 1700000000)
    {
        shm::store(seg.base()).reinit_locks();
        shm::notify_rings(seg.base(), seg.header()).reinit_locks();
        for (int fd : event_fds)
            BOOST_TEST_REQUIRE(fd >= 0);
    }
    ~relay_fixture()
    {
        for (int fd : event_fds)
            if (fd >= 0)
                ::close(fd);
        shm::segment::remove_memory(name);
    }
    relay_fixture(relay_fixture const&) = delete;
    relay_fixture& operator=(relay_fixture const&) = delete;

    shm::store& store() { return services.store(); }

    /// A handshaken connection of `h`; its HandshakeAck is checked and removed
    /// from the sink, queued blobs are kept.
    std::unique_ptr<client> connect(protocol::handshake const& h)
    {
        auto c = std::make_unique<client>(services);
        BOOST_TEST_REQUIRE(
            (c->handler.on_handshake(frame_of(relay::random::new_uuid_string(), h)) == verdict::proceed));
        BOOST_TEST_REQUIRE(c->sink.frames.size() == 1u);
        BOOST_TEST_REQUIRE(std::holds_alternative<protocol::handshake_ack>(decoded(c->sink.frames[0]).body));
        c->sink.frames.clear();
        return c;
    }
    std::unique_ptr<client> connect(std::string const& client_id) { return connect(hello(client_id)); }

    /// Sends an EncryptedUpdate and requires the answer `Stored`.
    void store_from(client& sender, std::string const& message_id, std::string const& recipient, protocol::bytes data)
    {
        sender.sink.frames.clear();
        sender.handler.on_message(update(message_id, recipient, std::move(data)));
        BOOST_TEST_REQUIRE(sender.sink.frames.size() == 1u);
        BOOST_TEST_REQUIRE(status_of(sender.sink.frames[0]) == "Stored");
        sender.sink.frames.clear();
    }

    /// The delivery of `c`'s i-th queued blob, decoded, and written as the
    /// session writes it (which may owe its sender a Delivered ack).
    protocol::envelope deliver(client& c, std::size_t i)
    {
        BOOST_TEST_REQUIRE(i < c.sink.blobs.size());
        auto const out = c.handler.load_delivery(c.sink.blobs[i]);
        BOOST_TEST_REQUIRE(out.has_value());
        if (out->delivered_due)
            c.handler.on_delivery_written(c.sink.blobs[i]);
        return decoded(out->frame);
    }

    relay::config cfg;
    std::string name;
    shm::segment seg;
    std::vector<int> event_fds;
    worker_services services;
};

inline protocol::encrypted_update const& update_in(protocol::envelope const& e)
{
    auto const* u = std::get_if<protocol::encrypted_update>(&e.body);
    BOOST_TEST_REQUIRE(u != nullptr);
    return *u;
}

// ---- docs/protocol.md#s5 test vector (RFC 8032 test key 1) ----

inline std::string const vector_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
inline std::string const vector_signature = "b502132ab5761767ee209719521a73c34af93c41cc014ed69ac9c1f384c3012e"
                                            "090d398f7a92fd63103c2c53cc05c51d2a4d0d745b9710218134b5eb6834950c";
inline constexpr std::uint64_t vector_time = 1700000000;

inline protocol::handshake signed_hello()
{
    protocol::handshake h = hello(vector_key);
    h.identity_public_key = vector_key;
    std::string nonce;
    for (int i = 0; i < 32; ++i)
        nonce += "42";
    h.nonce = nonce;
    h.signature = vector_signature;
    h.timestamp = vector_time;
    return h;
}

inline std::string uppercase(std::string s)
{
    for (char& c : s)
        if (c >= 'a' && c <= 'f')
            c = static_cast<char>(c - 'a' + 'A');
    return s;
}

} // namespace handler_testing
