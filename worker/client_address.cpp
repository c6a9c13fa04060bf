#include "worker/client_address.hpp"

#include "worker/services.hpp"

namespace relay::worker {

namespace {

/// The first read of a PROXY header: a v2 header for TCP over IPv4 is 28
/// bytes and HAProxy's v1 line at most 107, so one read usually takes it
/// whole, plus the start of the HTTP request behind it.
constexpr std::size_t header_read_bytes = 512;

} // namespace

ip_address address_of(tcp::endpoint const& endpoint)
{
    auto const address = endpoint.address();
    if (address.is_v4())
        return ip_address::v4(address.to_v4().to_bytes());
    // An IPv4 client on a dual-stack socket arrives IPv4-mapped; ip_address
    // holds it as the IPv4 address, the same client as over IPv4.
    return ip_address::v6(address.to_v6().to_bytes());
}

bool admit_client(worker_services& services, ip_address const& client, connection_slot& slot)
{
    config const& cfg = services.cfg();
    // A loopback client is normally a local TLS proxy that names no client,
    // i.e. every client at once: exempt unless the operator says otherwise.
    if (client.is_loopback() && cfg.per_ip_exempt_loopback)
        return true;
    std::uint64_t const key = services.addresses().key_of(client.bytes());
    auto const admission = services.addresses().try_acquire(key, cfg.max_connections_per_ip);
    if (admission == shm::address_counts::admission::refused) {
        services.count(shm::counter::connections_rejected_per_ip);
        services.count(shm::counter::connection_errors_total);
        return false;
    }
    if (admission == shm::address_counts::admission::counted)
        slot.count_address(key);
    return true;
}

net::awaitable<proxy::proxy_header> read_proxy_header(beast::tcp_stream& stream, beast::flat_buffer& buffer)
{
    for (;;) {
        auto const data = buffer.cdata();
        auto header = proxy::parse_proxy_header({static_cast<std::uint8_t const*>(data.data()), data.size()});
        if (header.status == proxy::proxy_header::state::complete) {
            buffer.consume(header.length);
            co_return header;
        }
        if (header.status == proxy::proxy_header::state::invalid)
            co_return header;
        // Incomplete: parse_proxy_header() refuses anything longer than its
        // bounds, so this loop reads at most a few KiB.
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(header_read_bytes), use_nothrow);
        if (ec) {
            header.status = proxy::proxy_header::state::invalid;
            header.error = ec == beast::error::timeout ? "no complete header within RELAY_HANDSHAKE_TIMEOUT"
                                                       : "connection closed before a complete header";
            co_return header;
        }
        buffer.commit(n);
    }
}

} // namespace relay::worker
