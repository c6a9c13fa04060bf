#include "noise/responder.hpp"

#include "noise/initiator.hpp"
#include "tests/noise/hex.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <vector>

// The relay's handshake (docs/protocol.md#s9-2): empty prologue, empty payloads,
// 48-byte messages, and every way message 1 or 2 can go wrong.

namespace relay::noise {
namespace {

using bytes = std::vector<std::uint8_t>;

dh_key relay_key()
{
    auto k = dh_key::generate();
    BOOST_REQUIRE(k);
    return *k;
}

struct sessions {
    transport client;
    transport relay;
};

std::optional<sessions> full_handshake(dh_key const& relay_static, key const& client_view_of_relay)
{
    initiator client(client_view_of_relay);
    responder relay(relay_static);
    auto m1 = client.write_message_1();
    if (!m1 || !relay.read_message_1(*m1))
        return std::nullopt;
    auto m2 = relay.write_message_2();
    if (!m2 || !client.read_message_2(*m2))
        return std::nullopt;
    auto c = client.split();
    auto r = relay.split();
    if (!c || !r)
        return std::nullopt;
    return sessions{std::move(*c), std::move(*r)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(handshake)

BOOST_AUTO_TEST_CASE(relay_handshake_uses_48_byte_messages_and_agrees_on_the_hash)
{
    auto const s = relay_key();
    initiator client(s.public_key());
    responder relay(s);
    auto m1 = client.write_message_1();
    BOOST_REQUIRE(m1);
    BOOST_TEST(m1->size() == handshake_message_size);
    BOOST_TEST(m1->size() == 48u);
    auto p1 = relay.read_message_1(*m1);
    BOOST_REQUIRE(p1);
    BOOST_TEST(p1->empty());
    auto m2 = relay.write_message_2();
    BOOST_REQUIRE(m2);
    BOOST_TEST(m2->size() == 48u);
    auto p2 = client.read_message_2(*m2);
    BOOST_REQUIRE(p2);
    BOOST_TEST(p2->empty());
    BOOST_TEST(client.handshake_hash() == relay.handshake_hash());

    auto c = client.split();
    auto r = relay.split();
    BOOST_REQUIRE(c);
    BOOST_REQUIRE(r);
    bytes wire, plain;
    bytes const hello{'h', 'i'};
    BOOST_REQUIRE(c->encrypt(hello, wire));
    BOOST_REQUIRE(r->decrypt(wire, plain));
    BOOST_TEST(plain == hello);
    BOOST_REQUIRE(r->encrypt(hello, wire));
    BOOST_REQUIRE(c->decrypt(wire, plain));
    BOOST_TEST(plain == hello);
}

BOOST_AUTO_TEST_CASE(fresh_ephemeral_keys_make_every_handshake_different)
{
    auto const s = relay_key();
    initiator a(s.public_key()), b(s.public_key());
    auto m1a = a.write_message_1();
    auto m1b = b.write_message_1();
    BOOST_REQUIRE(m1a);
    BOOST_REQUIRE(m1b);
    BOOST_TEST(*m1a != *m1b);
}

BOOST_AUTO_TEST_CASE(read_message_1_fails_when_the_client_used_another_relay_key)
{
    auto const s = relay_key();
    auto const other = relay_key();
    initiator client(other.public_key());
    responder relay(s);
    auto m1 = client.write_message_1();
    BOOST_REQUIRE(m1);
    BOOST_TEST(!relay.read_message_1(*m1));
    // The handshake is dead: nothing more comes out of it.
    BOOST_TEST(!relay.write_message_2());
    BOOST_TEST(!relay.split());
    BOOST_TEST(!full_handshake(s, other.public_key()));
}

BOOST_AUTO_TEST_CASE(read_message_1_accepts_and_returns_a_non_empty_payload)
{
    auto const s = relay_key();
    initiator client(s.public_key());
    responder relay(s);
    bytes const payload{1, 2, 3, 4, 5};
    auto m1 = client.write_message_1(payload);
    BOOST_REQUIRE(m1);
    BOOST_TEST(m1->size() == 48u + payload.size());
    auto p1 = relay.read_message_1(*m1);
    BOOST_REQUIRE(p1);
    BOOST_TEST(*p1 == payload);
    auto m2 = relay.write_message_2();
    BOOST_REQUIRE(m2);
    BOOST_TEST(client.read_message_2(*m2).has_value());
}

BOOST_AUTO_TEST_CASE(read_message_1_rejects_short_oversized_and_corrupt_messages)
{
    auto const s = relay_key();
    initiator client(s.public_key());
    auto m1 = client.write_message_1();
    BOOST_REQUIRE(m1);

    responder short_one(s);
    BOOST_TEST(!short_one.read_message_1(std::span(*m1).first(47)));

    responder empty_one(s);
    BOOST_TEST(!empty_one.read_message_1({}));

    responder oversized(s);
    bytes big(max_message_size + 1, 0);
    std::copy(m1->begin(), m1->end(), big.begin());
    BOOST_TEST(!oversized.read_message_1(big));

    for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{47}}) {
        responder relay(s);
        bytes bad = *m1;
        bad[i] ^= 0x01;
        BOOST_TEST(!relay.read_message_1(bad), "flipped byte " << i);
    }

    responder relay(s);
    BOOST_TEST(relay.read_message_1(*m1).has_value()); // the genuine message still works
}

BOOST_AUTO_TEST_CASE(read_message_1_rejects_a_small_order_ephemeral_key)
{
    // An all-zero public key gives an all-zero DH result, which OpenSSL
    // refuses (RFC 7748 §6.1); the tag could not match anyway.
    auto const s = relay_key();
    responder relay(s);
    bytes m1(48, 0);
    BOOST_TEST(!relay.read_message_1(m1));
}

BOOST_AUTO_TEST_CASE(read_message_2_rejects_corrupt_and_short_messages)
{
    auto const s = relay_key();
    for (std::size_t flip : {std::size_t{0}, std::size_t{40}}) {
        initiator client(s.public_key());
        responder relay(s);
        auto m1 = client.write_message_1();
        BOOST_REQUIRE(m1);
        BOOST_REQUIRE(relay.read_message_1(*m1));
        auto m2 = relay.write_message_2();
        BOOST_REQUIRE(m2);
        bytes bad = *m2;
        bad[flip] ^= 0x80;
        BOOST_TEST(!client.read_message_2(bad));
        BOOST_TEST(!client.split());
    }
    initiator client(s.public_key());
    responder relay(s);
    auto m1 = client.write_message_1();
    BOOST_REQUIRE(m1);
    BOOST_REQUIRE(relay.read_message_1(*m1));
    auto m2 = relay.write_message_2();
    BOOST_REQUIRE(m2);
    BOOST_TEST(!client.read_message_2(std::span(*m2).first(47)));
}

BOOST_AUTO_TEST_CASE(steps_out_of_order_fail)
{
    auto const s = relay_key();
    responder relay(s);
    BOOST_TEST(!relay.write_message_2());
    BOOST_TEST(!relay.split());

    initiator client(s.public_key());
    BOOST_TEST(!client.read_message_2(bytes(48, 1)));
    BOOST_TEST(!client.split());

    initiator twice(s.public_key());
    BOOST_TEST(twice.write_message_1().has_value());
    BOOST_TEST(!twice.write_message_1());

    responder relay2(s);
    initiator c2(s.public_key());
    auto m1 = c2.write_message_1();
    BOOST_REQUIRE(m1);
    BOOST_TEST(relay2.read_message_1(*m1).has_value());
    BOOST_TEST(!relay2.read_message_1(*m1));
}

BOOST_AUTO_TEST_CASE(a_stored_public_half_is_used_as_is)
{
    // docs/protocol.md#s9-3: the public half comes from the file, not from the
    // private half. A mismatched pair therefore cannot complete a handshake
    // with a client that trusts the stored public key.
    auto const real = relay_key();
    auto const other = relay_key();
    auto priv = real.private_key();
    BOOST_REQUIRE(priv);
    auto mismatched = dh_key::from_pair({*priv, other.public_key()});
    BOOST_REQUIRE(mismatched);
    BOOST_TEST(mismatched->public_key() == other.public_key());
    BOOST_TEST(!full_handshake(*mismatched, other.public_key()));
    BOOST_TEST(!full_handshake(*mismatched, real.public_key()));

    auto matched = dh_key::from_pair({*priv, real.public_key()});
    BOOST_REQUIRE(matched);
    BOOST_TEST(full_handshake(*matched, real.public_key()).has_value());
}

BOOST_AUTO_TEST_CASE(one_static_key_serves_many_handshakes)
{
    auto const s = relay_key();
    for (int i = 0; i < 20; ++i)
        BOOST_TEST(full_handshake(s, s.public_key()).has_value());
}

BOOST_AUTO_TEST_CASE(handshake_payload_is_limited_to_the_noise_message_size)
{
    auto const s = relay_key();
    initiator ok(s.public_key());
    auto m1 = ok.write_message_1(bytes(max_message_size - 48, 7));
    BOOST_REQUIRE(m1);
    BOOST_TEST(m1->size() == max_message_size);
    responder relay(s);
    BOOST_TEST(relay.read_message_1(*m1).has_value());

    initiator too_big(s.public_key());
    BOOST_TEST(!too_big.write_message_1(bytes(max_message_size - 47, 7)));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace relay::noise
