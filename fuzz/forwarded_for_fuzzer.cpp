// libFuzzer target: X-Forwarded-For and address-block parsing
// (worker/proxy/forwarded_for.hpp, common/ip_address.hpp). The first byte picks
// the trusted proxies, the rest is the header value. Oracles: the client is
// the peer or an address written in the header; it is untrusted unless no
// untrusted entry could be read; and a parsed block prints to text that
// parses back to the same block.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "worker/proxy/forwarded_for.hpp"

namespace {

using relay::ip_address;
using relay::ip_block;
using relay::ip_block_list;

void require(bool ok)
{
    if (!ok)
        std::abort();
}

ip_block_list trusted_list(std::uint8_t choice)
{
    static char const* const lists[] = {"127.0.0.1/32", "127.0.0.1/32,10.0.0.0/8", "::1/128,2001:db8::/32",
                                        "0.0.0.0/0,::/0"};
    std::string error;
    return *ip_block_list::parse(lists[choice % 4], error);
}

/// True if some comma-separated entry of `header` parses to `a`.
bool written_in(std::string_view header, ip_address const& a)
{
    while (true) {
        auto const comma = header.find(',');
        auto const entry = relay::proxy::parse_forwarded_entry(header.substr(0, comma));
        if (entry && *entry == a)
            return true;
        if (comma == std::string_view::npos)
            return false;
        header.remove_prefix(comma + 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size == 0)
        return 0;
    ip_block_list const trusted = trusted_list(data[0]);
    std::string_view const header(reinterpret_cast<char const*>(data) + 1, size - 1);
    ip_address const peer = *ip_address::parse("127.0.0.1");
    ip_address const client = relay::proxy::client_from_forwarded_for(header, peer, trusted);
    require(client == peer || written_in(header, client));

    if (auto const block = ip_block::parse(header)) {
        auto const again = ip_block::parse(block->to_string());
        require(again.has_value() && *again == *block);
    }
    if (auto const a = ip_address::parse(header)) {
        auto const again = ip_address::parse(a->to_string());
        require(again.has_value() && *again == *a);
    }
    return 0;
}
