// X-Forwarded-For (worker/proxy/forwarded_for.hpp): the rightmost address
// that no trusted proxy wrote is the client.

#include "worker/proxy/forwarded_for.hpp"

#include <boost/test/unit_test.hpp>

namespace {

using relay::ip_address;
using relay::ip_block_list;
using relay::proxy::client_from_forwarded_for;
using relay::proxy::parse_forwarded_entry;

ip_address addr(char const* text) { return *ip_address::parse(text); }

ip_block_list trusted(char const* text)
{
    std::string error;
    return *ip_block_list::parse(text, error);
}

} // namespace

BOOST_AUTO_TEST_SUITE(forwarded_for)

BOOST_AUTO_TEST_CASE(entries_with_spaces_ports_and_brackets)
{
    BOOST_TEST((*parse_forwarded_entry("  192.0.2.7\t") == addr("192.0.2.7")));
    BOOST_TEST((*parse_forwarded_entry("192.0.2.7:4711") == addr("192.0.2.7")));
    BOOST_TEST((*parse_forwarded_entry("2001:db8::7") == addr("2001:db8::7")));
    BOOST_TEST((*parse_forwarded_entry("[2001:db8::7]") == addr("2001:db8::7")));
    BOOST_TEST((*parse_forwarded_entry(" [2001:db8::7]:443 ") == addr("2001:db8::7")));
    BOOST_TEST((*parse_forwarded_entry("::ffff:192.0.2.7") == addr("192.0.2.7")));
}

BOOST_AUTO_TEST_CASE(garbage_entries_are_not_addresses)
{
    for (char const* bad : {"", "unknown", "_hidden", "relay.example", "192.0.2.7:", "192.0.2.7:99999",
                            "192.0.2.7:port", "[192.0.2.7]", "[2001:db8::7", "[2001:db8::7]x",
                            "[2001:db8::7]:", "2001:db8::7:443x", "192.0.2.7 192.0.2.8", "\"192.0.2.7\"", "1.2.3.4/24"})
        BOOST_TEST(!parse_forwarded_entry(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(the_rightmost_untrusted_address_is_the_client)
{
    auto const proxies = trusted("127.0.0.1/32,10.0.0.0/8");
    ip_address const peer = addr("127.0.0.1");
    // One proxy appended its peer, the client.
    BOOST_TEST((client_from_forwarded_for("203.0.113.5", peer, proxies) == addr("203.0.113.5")));
    // Two proxies: the inner one (10.1.2.3) is trusted and skipped.
    BOOST_TEST((client_from_forwarded_for("203.0.113.5, 10.1.2.3", peer, proxies) == addr("203.0.113.5")));
    // A client's forgery sits left of what the proxy appended: never reached.
    BOOST_TEST((client_from_forwarded_for("198.51.100.66, 203.0.113.5", peer, proxies) == addr("203.0.113.5")));
    // Several header fields are one list.
    BOOST_TEST((client_from_forwarded_for("198.51.100.66,203.0.113.5,10.1.2.3", peer, proxies) == addr("203.0.113.5")));
}

BOOST_AUTO_TEST_CASE(without_a_usable_entry_the_client_is_the_last_trusted_address)
{
    auto const proxies = trusted("127.0.0.1/32,10.0.0.0/8");
    ip_address const peer = addr("127.0.0.1");
    BOOST_TEST((client_from_forwarded_for("", peer, proxies) == peer));
    BOOST_TEST((client_from_forwarded_for(" , ,", peer, proxies) == peer));
    BOOST_TEST((client_from_forwarded_for("10.1.2.3", peer, proxies) == addr("10.1.2.3")));
    // Garbage stops the walk: nothing left of it can be vouched for.
    BOOST_TEST((client_from_forwarded_for("203.0.113.5, unknown", peer, proxies) == peer));
    BOOST_TEST((client_from_forwarded_for("203.0.113.5, garbage, 10.1.2.3", peer, proxies) == addr("10.1.2.3")));
}

BOOST_AUTO_TEST_CASE(the_walk_is_bounded)
{
    auto const proxies = trusted("10.0.0.0/8");
    std::string chain = "203.0.113.5";
    for (int i = 0; i < 1000; ++i)
        chain += ",10.0.0.1";
    // Far more trusted hops than any real chain: the walk stops at a trusted one.
    BOOST_TEST(proxies.contains(client_from_forwarded_for(chain, addr("10.0.0.2"), proxies)));
}

BOOST_AUTO_TEST_SUITE_END()
