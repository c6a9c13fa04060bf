#include "noise/transport.hpp"

#include "noise/initiator.hpp"
#include "noise/responder.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <vector>

// Transport messages after the handshake (docs/protocol.md#s9-2 step 5 and the
// failure rules): separate counters, no skipping or reordering, forged
// messages rejected without advancing the counter, and the 65519-byte limit.

namespace relay::noise {
namespace {

using bytes = std::vector<std::uint8_t>;

struct session_pair {
    transport client;
    transport relay;
};

session_pair connect()
{
    auto s = dh_key::generate();
    BOOST_REQUIRE(s);
    initiator client(s->public_key());
    responder relay(*s);
    auto m1 = client.write_message_1();
    BOOST_REQUIRE(m1);
    BOOST_REQUIRE(relay.read_message_1(*m1));
    auto m2 = relay.write_message_2();
    BOOST_REQUIRE(m2);
    BOOST_REQUIRE(client.read_message_2(*m2));
    auto c = client.split();
    auto r = relay.split();
    BOOST_REQUIRE(c);
    BOOST_REQUIRE(r);
    return {std::move(*c), std::move(*r)};
}

bytes pattern(std::size_t size, std::uint8_t seed)
{
    bytes out(size);
    for (std::size_t i = 0; i < size; ++i)
        out[i] = static_cast<std::uint8_t>(seed + i * 31);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(transport_messages)

BOOST_AUTO_TEST_CASE(many_messages_in_both_directions_round_trip)
{
    auto [client, relay] = connect();
    std::mt19937 rng(12345); // deterministic sizes and interleaving
    std::uniform_int_distribution<std::size_t> size(0, 3000);
    std::bernoulli_distribution from_client(0.5);
    bytes wire, plain;
    std::uint64_t up = 0, down = 0;
    for (int i = 0; i < 2000; ++i) {
        bool const up_direction = from_client(rng);
        auto& sender = up_direction ? client : relay;
        auto& receiver = up_direction ? relay : client;
        bytes const msg = pattern(size(rng), static_cast<std::uint8_t>(i));
        BOOST_REQUIRE(sender.encrypt(msg, wire));
        BOOST_REQUIRE_EQUAL(wire.size(), msg.size() + tag_size);
        BOOST_REQUIRE(receiver.decrypt(wire, plain));
        BOOST_REQUIRE(plain == msg);
        ++(up_direction ? up : down);
    }
    BOOST_TEST(client.sent() == up);
    BOOST_TEST(relay.received() == up);
    BOOST_TEST(relay.sent() == down);
    BOOST_TEST(client.received() == down);
}

BOOST_AUTO_TEST_CASE(the_two_directions_use_different_keys)
{
    auto [client, relay] = connect();
    bytes const msg = pattern(64, 1);
    bytes up, down, plain;
    BOOST_REQUIRE(client.encrypt(msg, up));
    BOOST_REQUIRE(relay.encrypt(msg, down));
    BOOST_TEST(up != down); // same nonce 0, same plaintext: only the key differs
    // A message cannot be reflected back to its sender.
    BOOST_TEST(!client.decrypt(up, plain));
    BOOST_TEST(client.decrypt(down, plain));
}

BOOST_AUTO_TEST_CASE(tampered_ciphertext_is_rejected_and_the_counter_does_not_advance)
{
    auto [client, relay] = connect();
    bytes wire, plain;
    bytes const first = pattern(100, 3);
    BOOST_REQUIRE(client.encrypt(first, wire));

    for (std::size_t i : {std::size_t{0}, std::size_t{50}, std::size_t{99}, std::size_t{100}, std::size_t{115}}) {
        bytes bad = wire;
        bad[i] ^= 0x20;
        BOOST_TEST(!relay.decrypt(bad, plain), "flipped byte " << i);
        BOOST_TEST(plain.empty()); // no unauthenticated plaintext comes out
        BOOST_TEST(relay.received() == 0u);
    }
    BOOST_TEST(!relay.decrypt(std::span(wire).first(wire.size() - 1), plain)); // truncated
    BOOST_TEST(!relay.decrypt(std::span(wire).first(tag_size - 1), plain));    // shorter than a tag
    BOOST_TEST(!relay.decrypt({}, plain));
    BOOST_TEST(relay.received() == 0u);

    BOOST_REQUIRE(relay.decrypt(wire, plain)); // the genuine message still decrypts
    BOOST_TEST(plain == first);
    BOOST_TEST(relay.received() == 1u);

    bytes const second = pattern(10, 9);
    BOOST_REQUIRE(client.encrypt(second, wire));
    BOOST_REQUIRE(relay.decrypt(wire, plain));
    BOOST_TEST(plain == second);
}

BOOST_AUTO_TEST_CASE(messages_cannot_be_replayed_skipped_or_reordered)
{
    auto [client, relay] = connect();
    bytes m0, m1, m2, plain;
    BOOST_REQUIRE(client.encrypt(pattern(5, 0), m0));
    BOOST_REQUIRE(client.encrypt(pattern(5, 1), m1));
    BOOST_REQUIRE(client.encrypt(pattern(5, 2), m2));

    BOOST_TEST(!relay.decrypt(m1, plain)); // skipped m0
    BOOST_REQUIRE(relay.decrypt(m0, plain));
    BOOST_TEST(!relay.decrypt(m0, plain)); // replay
    BOOST_TEST(!relay.decrypt(m2, plain)); // skipped m1
    BOOST_REQUIRE(relay.decrypt(m1, plain));
    BOOST_REQUIRE(relay.decrypt(m2, plain));
    BOOST_TEST(plain == pattern(5, 2));
}

BOOST_AUTO_TEST_CASE(plaintext_of_65519_bytes_is_the_largest_that_encrypts)
{
    auto [client, relay] = connect();
    bytes wire, plain;
    bytes const largest = pattern(max_transport_plaintext, 4);
    BOOST_TEST(largest.size() == 65519u);
    BOOST_REQUIRE(client.encrypt(largest, wire));
    BOOST_TEST(wire.size() == 65535u);
    BOOST_REQUIRE(relay.decrypt(wire, plain));
    BOOST_TEST(plain == largest);

    bytes const too_large = pattern(max_transport_plaintext + 1, 5);
    BOOST_TEST(!client.encrypt(too_large, wire));
    BOOST_TEST(wire.empty());
    BOOST_TEST(client.sent() == 1u); // nothing consumed: the next frame uses nonce 1

    bytes const next = pattern(7, 6);
    BOOST_REQUIRE(client.encrypt(next, wire));
    BOOST_REQUIRE(relay.decrypt(wire, plain));
    BOOST_TEST(plain == next);
}

BOOST_AUTO_TEST_CASE(empty_plaintext_is_a_bare_tag)
{
    auto [client, relay] = connect();
    bytes wire, plain{1, 2, 3};
    BOOST_REQUIRE(relay.encrypt({}, wire));
    BOOST_TEST(wire.size() == tag_size);
    BOOST_REQUIRE(client.decrypt(wire, plain));
    BOOST_TEST(plain.empty());
}

BOOST_AUTO_TEST_CASE(output_buffer_is_replaced_and_its_capacity_reused)
{
    auto [client, relay] = connect();
    bytes wire, plain;
    BOOST_REQUIRE(client.encrypt(pattern(4000, 1), wire));
    auto const* storage = wire.data();
    BOOST_REQUIRE(relay.decrypt(wire, plain));
    BOOST_REQUIRE(client.encrypt(pattern(10, 2), wire));
    BOOST_TEST(wire.size() == 10u + tag_size);
    BOOST_TEST(wire.data() == storage); // no reallocation for a smaller message
    BOOST_REQUIRE(relay.decrypt(wire, plain));
    BOOST_TEST(plain == pattern(10, 2));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::noise
