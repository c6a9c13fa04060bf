// Addresses and blocks of RELAY_TRUSTED_PROXIES (common/ip_address.hpp).

#include "common/ip_address.hpp"

#include <boost/test/unit_test.hpp>

using relay::ip_address;
using relay::ip_block;
using relay::ip_block_list;

BOOST_AUTO_TEST_SUITE(ip_addresses)

BOOST_AUTO_TEST_CASE(literals_parse_strictly)
{
    BOOST_TEST(ip_address::parse("192.0.2.7").has_value());
    BOOST_TEST(ip_address::parse("2001:db8::1").has_value());
    BOOST_TEST(ip_address::parse("::1").has_value());
    for (char const* bad : {"", "192.0.2", "192.0.2.256", "0x7f.0.0.1", "localhost", "[::1]", "192.0.2.7:80",
                            "fe80::1%eth0", " 192.0.2.7", "1.2.3.4.5"})
        BOOST_TEST(!ip_address::parse(bad).has_value(), bad);
    BOOST_TEST(!ip_address::parse(std::string(100, '1')).has_value());
}

BOOST_AUTO_TEST_CASE(an_ipv4_mapped_address_is_the_ipv4_address)
{
    auto const mapped = ip_address::parse("::ffff:192.0.2.7");
    auto const plain = ip_address::parse("192.0.2.7");
    BOOST_REQUIRE(mapped && plain);
    BOOST_TEST((*mapped == *plain));
    BOOST_TEST(mapped->is_v4());
    BOOST_TEST(mapped->bytes().size() == 4u);
    BOOST_TEST(ip_address::parse("2001:db8::1")->bytes().size() == 16u);
    BOOST_TEST(mapped->to_string() == "192.0.2.7");
}

BOOST_AUTO_TEST_CASE(loopback_is_127_slash_8_and_colon_colon_1)
{
    BOOST_TEST(ip_address::parse("127.0.0.1")->is_loopback());
    BOOST_TEST(ip_address::parse("127.9.8.7")->is_loopback());
    BOOST_TEST(ip_address::parse("::1")->is_loopback());
    BOOST_TEST(!ip_address::parse("128.0.0.1")->is_loopback());
    BOOST_TEST(!ip_address::parse("::2")->is_loopback());
}

BOOST_AUTO_TEST_CASE(blocks_match_their_prefix_only)
{
    auto const ten = ip_block::parse("10.0.0.0/8");
    BOOST_REQUIRE(ten);
    BOOST_TEST(ten->contains(*ip_address::parse("10.255.1.2")));
    BOOST_TEST(!ten->contains(*ip_address::parse("11.0.0.0")));
    // An IPv4 block never matches an IPv6 address outside ::ffff:0:0/96.
    BOOST_TEST(!ten->contains(*ip_address::parse("a00::1")));
    auto const odd = ip_block::parse("192.0.2.128/25");
    BOOST_REQUIRE(odd);
    BOOST_TEST(odd->contains(*ip_address::parse("192.0.2.200")));
    BOOST_TEST(!odd->contains(*ip_address::parse("192.0.2.127")));
    auto const v6 = ip_block::parse("2001:db8::/32");
    BOOST_REQUIRE(v6);
    BOOST_TEST(v6->contains(*ip_address::parse("2001:db8:ffff::9")));
    BOOST_TEST(!v6->contains(*ip_address::parse("2001:db9::")));
    auto const one = ip_block::parse("127.0.0.1");
    BOOST_REQUIRE(one);
    BOOST_TEST(one->to_string() == "127.0.0.1/32");
    BOOST_TEST(!one->contains(*ip_address::parse("127.0.0.2")));
    auto const all = ip_block::parse("0.0.0.0/0");
    BOOST_REQUIRE(all);
    BOOST_TEST(all->contains(*ip_address::parse("203.0.113.1")));
    BOOST_TEST(!all->contains(*ip_address::parse("::1")));
}

BOOST_AUTO_TEST_CASE(malformed_blocks_are_refused)
{
    for (char const* bad : {"10.0.0.1/8", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                            "10.0.0.0/0008", "proxy.example", "/8"})
        BOOST_TEST(!ip_block::parse(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(a_list_names_the_entry_that_does_not_parse)
{
    std::string error;
    auto const list = ip_block_list::parse(" 127.0.0.1/32, ::1/128 ,,10.0.0.0/8", error);
    BOOST_REQUIRE(list);
    BOOST_TEST(list->blocks.size() == 3u);
    BOOST_TEST(list->to_string() == "127.0.0.1/32,::1/128,10.0.0.0/8");
    BOOST_TEST(list->contains(*ip_address::parse("::1")));
    BOOST_TEST(!list->contains(*ip_address::parse("192.0.2.1")));
    BOOST_TEST(!ip_block_list::parse("127.0.0.1, 10.0.0.0/40", error).has_value());
    BOOST_TEST(error == "10.0.0.0/40");
    auto const empty = ip_block_list::parse("", error);
    BOOST_REQUIRE(empty);
    BOOST_TEST(empty->empty());
}

BOOST_AUTO_TEST_SUITE_END()
