// The PROXY protocol parser (worker/proxy/proxy_header.hpp) against headers
// as HAProxy's specification writes them, split and joined as TCP may
// deliver them, and malformed.

#include "worker/proxy/proxy_header.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace {

using relay::ip_address;
using relay::proxy::parse_proxy_header;
using relay::proxy::proxy_header;
using state = proxy_header::state;
using bytes = std::vector<std::uint8_t>;

bytes of(std::string const& s) { return bytes(s.begin(), s.end()); }

proxy_header parse(bytes const& b) { return parse_proxy_header({b.data(), b.size()}); }

bytes const signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/// A v2 header: command byte, family byte, then `body` (addresses and TLVs).
bytes v2(std::uint8_t ver_cmd, std::uint8_t family, bytes const& body)
{
    bytes h = signature;
    h.push_back(ver_cmd);
    h.push_back(family);
    h.push_back(static_cast<std::uint8_t>(body.size() >> 8));
    h.push_back(static_cast<std::uint8_t>(body.size()));
    h.insert(h.end(), body.begin(), body.end());
    return h;
}

/// TCP over IPv4 from 192.0.2.7:4711 to 198.51.100.1:443.
bytes const tcp4_addresses{192, 0, 2, 7, 198, 51, 100, 1, 0x12, 0x67, 0x01, 0xbb};

bytes tcp6_addresses()
{
    bytes b{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07}; // 2001:db8::7
    bytes const dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    b.insert(b.end(), dst.begin(), dst.end());
    b.insert(b.end(), {0x12, 0x67, 0x01, 0xbb});
    return b;
}

} // namespace

BOOST_AUTO_TEST_SUITE(proxy_header_v1)

BOOST_AUTO_TEST_CASE(tcp4_names_the_source)
{
    auto const h = parse(of("PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\n"));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 44u);
    BOOST_REQUIRE(h.source);
    BOOST_TEST((*h.source == *ip_address::parse("192.0.2.7")));
}

BOOST_AUTO_TEST_CASE(tcp6_names_the_source)
{
    auto const h = parse(of("PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n"));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_REQUIRE(h.source);
    BOOST_TEST((*h.source == *ip_address::parse("2001:db8::7")));
}

BOOST_AUTO_TEST_CASE(unknown_names_no_client_and_ignores_the_rest)
{
    auto const h = parse(of("PROXY UNKNOWN ffff::1 whatever follows\r\nGET / HTTP/1.1\r\n"));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 40u);
    BOOST_TEST(!h.source.has_value());
    BOOST_TEST((parse(of("PROXY UNKNOWN\r\n")).status == state::complete));
}

BOOST_AUTO_TEST_CASE(the_request_behind_it_in_the_same_segment_is_left_alone)
{
    std::string const header = "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\n";
    auto const h = parse(of(header + "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == header.size());
}

BOOST_AUTO_TEST_CASE(every_prefix_is_incomplete_and_the_whole_completes)
{
    bytes const whole = of("PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n");
    for (std::size_t n = 0; n < whole.size(); ++n)
        BOOST_TEST((parse(bytes(whole.begin(), whole.begin() + n)).status == state::incomplete), n);
    BOOST_TEST((parse(whole).status == state::complete));
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_invalid)
{
    for (char const* bad : {
             "GET / HTTP/1.1\r\n",                               // not a header at all
             "PROXY TCP5 192.0.2.7 198.51.100.1 4711 443\r\n",   // unknown protocol
             "PROXY TCP4 192.0.2.7 198.51.100.1 4711\r\n",       // a field missing
             "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443 9\r\n", // a field too many
             "PROXY TCP4 192.0.2.7  198.51.100.1 4711 443\r\n",  // double space
             "PROXY TCP4 2001:db8::7 2001:db8::1 4711 443\r\n",  // IPv6 under TCP4
             "PROXY TCP6 192.0.2.7 198.51.100.1 4711 443\r\n",   // IPv4 under TCP6
             "PROXY TCP4 192.0.2.7 198.51.100.1 65536 443\r\n",  // port out of range
             "PROXY TCP4 192.0.2.7 198.51.100.1 04711 443\r\n",  // leading zero
             "PROXY TCP4 192.0.2.7 198.51.100.1 -1 443\r\n",     // sign
             "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\rX",    // CR without LF
             "PROXY TCP4 192.0.2.7\n198.51.100.1 4711 443\r\n",  // stray LF
             "proxy TCP4 192.0.2.7 198.51.100.1 4711 443\r\n",   // case matters
         })
        BOOST_TEST((parse(of(bad)).status == state::invalid), bad);
}

BOOST_AUTO_TEST_CASE(a_line_without_crlf_in_107_bytes_is_oversized)
{
    std::string line = "PROXY UNKNOWN ";
    line += std::string(120, 'x');
    BOOST_TEST((parse(of(line.substr(0, 106))).status == state::incomplete));
    BOOST_TEST((parse(of(line)).status == state::invalid));
    // Exactly 107 bytes with its CRLF is still a header.
    std::string fits = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
    BOOST_REQUIRE(fits.size() == 107u);
    BOOST_TEST((parse(of(fits)).status == state::complete));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(proxy_header_v2)

BOOST_AUTO_TEST_CASE(tcp4_is_28_bytes_and_names_the_source)
{
    auto const h = parse(v2(0x21, 0x11, tcp4_addresses));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 28u);
    BOOST_REQUIRE(h.source);
    BOOST_TEST((*h.source == *ip_address::parse("192.0.2.7")));
}

BOOST_AUTO_TEST_CASE(tcp6_names_the_source)
{
    auto const h = parse(v2(0x21, 0x21, tcp6_addresses()));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 52u);
    BOOST_REQUIRE(h.source);
    BOOST_TEST((*h.source == *ip_address::parse("2001:db8::7")));
}

BOOST_AUTO_TEST_CASE(tlvs_after_the_addresses_are_skipped)
{
    bytes body = tcp4_addresses;
    // PP2_TYPE_ALPN "h2", PP2_TYPE_AUTHORITY "relay.example", PP2_TYPE_NOOP padding.
    body.insert(body.end(), {0x01, 0x00, 0x02, 'h', '2'});
    std::string const authority = "relay.example";
    body.insert(body.end(), {0x02, 0x00, static_cast<std::uint8_t>(authority.size())});
    body.insert(body.end(), authority.begin(), authority.end());
    body.insert(body.end(), {0x04, 0x00, 0x03, 0, 0, 0});
    auto const h = parse(v2(0x21, 0x11, body));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 16 + body.size());
    BOOST_TEST((*h.source == *ip_address::parse("192.0.2.7")));
}

BOOST_AUTO_TEST_CASE(a_tlv_running_past_the_header_is_invalid)
{
    bytes body = tcp4_addresses;
    body.insert(body.end(), {0x01, 0x00, 0x09, 'h', '2'});
    BOOST_TEST((parse(v2(0x21, 0x11, body)).status == state::invalid));
    bytes torn = tcp4_addresses;
    torn.insert(torn.end(), {0x01, 0x00});
    BOOST_TEST((parse(v2(0x21, 0x11, torn)).status == state::invalid));
}

BOOST_AUTO_TEST_CASE(local_is_the_proxys_own_connection)
{
    auto const h = parse(v2(0x20, 0x00, {}));
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 16u);
    BOOST_TEST(!h.source.has_value());
    // LOCAL with addresses present: they are skipped, not used.
    auto const with = parse(v2(0x20, 0x11, tcp4_addresses));
    BOOST_REQUIRE(with.status == state::complete);
    BOOST_TEST(!with.source.has_value());
}

BOOST_AUTO_TEST_CASE(unspecified_and_unix_families_name_no_client)
{
    auto const unspec = parse(v2(0x21, 0x00, {1, 2, 3}));
    BOOST_REQUIRE(unspec.status == state::complete);
    BOOST_TEST(!unspec.source.has_value());
    auto const unix_paths = parse(v2(0x21, 0x31, bytes(216, 0)));
    BOOST_REQUIRE(unix_paths.status == state::complete);
    BOOST_TEST(!unix_paths.source.has_value());
}

BOOST_AUTO_TEST_CASE(an_unknown_family_version_or_command_is_invalid)
{
    BOOST_TEST((parse(v2(0x21, 0x41, tcp4_addresses)).status == state::invalid)); // family 4
    BOOST_TEST((parse(v2(0x21, 0x13, tcp4_addresses)).status == state::invalid)); // transport 3
    BOOST_TEST((parse(v2(0x11, 0x11, tcp4_addresses)).status == state::invalid)); // version 1
    BOOST_TEST((parse(v2(0x22, 0x11, tcp4_addresses)).status == state::invalid)); // command 2
}

BOOST_AUTO_TEST_CASE(a_body_too_short_for_its_family_is_invalid)
{
    BOOST_TEST((parse(v2(0x21, 0x11, bytes(11, 0))).status == state::invalid));
    BOOST_TEST((parse(v2(0x21, 0x21, bytes(35, 0))).status == state::invalid));
    BOOST_TEST((parse(v2(0x21, 0x31, bytes(215, 0))).status == state::invalid));
}

BOOST_AUTO_TEST_CASE(an_oversized_length_is_refused_before_reading_it)
{
    bytes h = signature;
    h.insert(h.end(), {0x21, 0x11, 0xff, 0xff}); // 65 535 bytes announced
    BOOST_TEST((parse(h).status == state::invalid));
    // At the bound exactly, it is a header.
    bytes body = tcp4_addresses;
    std::size_t const pad = relay::proxy::max_v2_header_bytes - 16 - body.size() - 3;
    body.insert(body.end(), {0x04, static_cast<std::uint8_t>(pad >> 8), static_cast<std::uint8_t>(pad)});
    body.resize(body.size() + pad);
    auto const fits = parse(v2(0x21, 0x11, body));
    BOOST_TEST((fits.status == state::complete));
    BOOST_TEST(fits.length == relay::proxy::max_v2_header_bytes);
}

BOOST_AUTO_TEST_CASE(split_across_segments_it_waits_for_every_byte)
{
    bytes const whole = v2(0x21, 0x21, tcp6_addresses());
    for (std::size_t n = 0; n < whole.size(); ++n)
        BOOST_TEST((parse(bytes(whole.begin(), whole.begin() + n)).status == state::incomplete), n);
    BOOST_TEST((parse(whole).status == state::complete));
}

BOOST_AUTO_TEST_CASE(followed_by_the_request_in_the_same_segment)
{
    bytes stream = v2(0x21, 0x11, tcp4_addresses);
    std::string const request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
    stream.insert(stream.end(), request.begin(), request.end());
    auto const h = parse(stream);
    BOOST_REQUIRE(h.status == state::complete);
    BOOST_TEST(h.length == 28u);
}

BOOST_AUTO_TEST_CASE(a_wrong_signature_byte_is_invalid_at_once)
{
    bytes b = signature;
    b[5] = 0x00;
    BOOST_TEST((parse(bytes(b.begin(), b.begin() + 6)).status == state::invalid));
    // A plain HTTP request (the client skipped the proxy) is invalid at its first byte.
    BOOST_TEST((parse(of("G")).status == state::invalid));
    BOOST_TEST((parse(bytes{0x16, 0x03, 0x01}).status == state::invalid)); // a TLS ClientHello
}

BOOST_AUTO_TEST_SUITE_END()
