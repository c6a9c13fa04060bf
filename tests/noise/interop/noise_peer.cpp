// A line-oriented Noise NK peer built from relay_noise, driven over
// stdin/stdout by an independent implementation (dissononce_peer.py) so that
// the two can be checked against each other. Not linked into the relay.
//
//   noise_peer responder <static private hex> <static public hex>
//       reads message 1 (hex line), prints message 2 (hex line)
//   noise_peer initiator <responder public hex>
//       prints message 1, reads message 2, prints "OK"
//   then, in both modes, one command per line until end of input:
//       E <hex>   encrypt, print the transport message in hex
//       D <hex>   decrypt, print the plaintext in hex, or "REJECT"
//   Empty hex is written as "-". A failed handshake prints "FAIL", exits 1.
//
//   noise_peer bench
//       prints the cost of a handshake and of a 4 KiB encrypt+decrypt

#include "noise/initiator.hpp"
#include "noise/responder.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace relay::noise;
using bytes = std::vector<std::uint8_t>;

std::optional<bytes> from_hex(std::string const& text)
{
    if (text == "-")
        return bytes{};
    if (text.size() % 2 != 0)
        return std::nullopt;
    bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        unsigned v = 0;
        if (std::sscanf(text.c_str() + i, "%2x", &v) != 1)
            return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

std::string to_hex(bytes const& data)
{
    if (data.empty())
        return "-";
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (auto b : data) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

std::optional<key> key_arg(char const* text)
{
    auto b = from_hex(text);
    if (!b || b->size() != dh_size)
        return std::nullopt;
    key k{};
    std::copy(b->begin(), b->end(), k.begin());
    return k;
}

int fail()
{
    std::cout << "FAIL" << std::endl;
    return 1;
}

int serve(transport& session)
{
    std::string line;
    bytes out;
    while (std::getline(std::cin, line)) {
        if (line.size() < 3 || line[1] != ' ') {
            std::cerr << "bad command: " << line << '\n';
            return 2;
        }
        auto in = from_hex(line.substr(2));
        if (!in) {
            std::cerr << "bad hex\n";
            return 2;
        }
        bool const ok = line[0] == 'E' ? session.encrypt(*in, out) : session.decrypt(*in, out);
        std::cout << (ok ? to_hex(out) : std::string("REJECT")) << std::endl;
    }
    return 0;
}

int run_responder(char const* priv_hex, char const* pub_hex)
{
    auto priv = key_arg(priv_hex);
    auto pub = key_arg(pub_hex);
    if (!priv || !pub)
        return fail();
    auto s = dh_key::from_pair({*priv, *pub});
    if (!s)
        return fail();
    responder relay(*s);
    std::string line;
    if (!std::getline(std::cin, line))
        return fail();
    auto m1 = from_hex(line);
    if (!m1 || !relay.read_message_1(*m1))
        return fail();
    auto m2 = relay.write_message_2();
    if (!m2)
        return fail();
    std::cout << to_hex(*m2) << std::endl;
    auto session = relay.split();
    return session ? serve(*session) : fail();
}

int run_initiator(char const* pub_hex)
{
    auto pub = key_arg(pub_hex);
    if (!pub)
        return fail();
    initiator client(*pub);
    auto m1 = client.write_message_1();
    if (!m1)
        return fail();
    std::cout << to_hex(*m1) << std::endl;
    std::string line;
    if (!std::getline(std::cin, line))
        return fail();
    auto m2 = from_hex(line);
    if (!m2 || !client.read_message_2(*m2))
        return fail();
    auto session = client.split();
    if (!session)
        return fail();
    std::cout << "OK" << std::endl;
    return serve(*session);
}

// Rough costs on this machine; not a test, so nothing is asserted.
int run_bench()
{
    using clock = std::chrono::steady_clock;
    auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count(); };
    auto s = dh_key::generate();
    if (!s)
        return fail();

    // The relay's share of a handshake: read message 1, write message 2, split.
    int constexpr handshakes = 300;
    std::vector<initiator> clients;
    std::vector<bytes> first_messages;
    clients.reserve(handshakes);
    for (int i = 0; i < handshakes; ++i) {
        clients.emplace_back(s->public_key());
        auto m1 = clients.back().write_message_1();
        if (!m1)
            return fail();
        first_messages.push_back(std::move(*m1));
    }
    std::optional<transport> relay_session;
    bytes last_m2;
    auto t0 = clock::now();
    for (int i = 0; i < handshakes; ++i) {
        responder relay(*s);
        auto m2 =
            relay.read_message_1(first_messages[static_cast<std::size_t>(i)]) ? relay.write_message_2() : std::nullopt;
        if (!m2)
            return fail();
        relay_session = relay.split();
        last_m2 = std::move(*m2);
    }
    auto t1 = clock::now();
    if (!clients.back().read_message_2(last_m2))
        return fail();
    auto client_session = clients.back().split();

    bytes const plaintext(4096, 0x61);
    bytes wire, plain;
    int constexpr messages = 20000;
    auto t2 = clock::now();
    for (int i = 0; i < messages; ++i) {
        if (!relay_session->encrypt(plaintext, wire) || !client_session->decrypt(wire, plain))
            return fail();
    }
    auto t3 = clock::now();
    std::printf("relay side of a handshake (2 X25519 + 1 keygen): %.1f us\n", us(t1 - t0) / handshakes);
    std::printf("4 KiB encrypt+decrypt: %.2f us\n", us(t3 - t2) / messages);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::string const mode = argc > 1 ? argv[1] : "";
    if (mode == "responder" && argc == 4)
        return run_responder(argv[2], argv[3]);
    if (mode == "initiator" && argc == 3)
        return run_initiator(argv[2]);
    if (mode == "bench" && argc == 2)
        return run_bench();
    std::cerr << "usage: noise_peer responder PRIV PUB | initiator PUB | bench\n";
    return 2;
}
