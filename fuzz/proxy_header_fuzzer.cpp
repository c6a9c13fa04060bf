// libFuzzer target: the PROXY protocol parser (worker/proxy/proxy_header.hpp),
// fed what a hostile peer or a broken proxy could send. Beyond not crashing,
// the parser is its own oracle: a complete header's bytes alone parse to the
// same result, every shorter prefix of it is incomplete, and an invalid input
// stays invalid whatever follows it (so reading on never rescues it).

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "worker/proxy/proxy_header.hpp"

namespace {

using relay::proxy::parse_proxy_header;
using relay::proxy::proxy_header;

void require(bool ok)
{
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::span<std::uint8_t const> const input(data, size);
    proxy_header const h = parse_proxy_header(input);
    switch (h.status) {
    case proxy_header::state::complete: {
        require(h.length > 0 && h.length <= size);
        require(h.length <= relay::proxy::max_v2_header_bytes);
        proxy_header const alone = parse_proxy_header(input.first(h.length));
        require(alone.status == proxy_header::state::complete && alone.length == h.length && alone.source == h.source);
        for (std::size_t n : {std::size_t{0}, h.length / 2, h.length - 1})
            require(parse_proxy_header(input.first(n)).status == proxy_header::state::incomplete);
        break;
    }
    case proxy_header::state::invalid: {
        require(h.error != nullptr);
        std::vector<std::uint8_t> longer(data, data + size);
        longer.insert(longer.end(), {'\r', '\n', 0});
        require(parse_proxy_header(longer).status == proxy_header::state::invalid);
        break;
    }
    case proxy_header::state::incomplete:
        // More bytes are waited for only while a header could still fit.
        require(size < relay::proxy::max_v2_header_bytes);
        break;
    }
    return 0;
}
