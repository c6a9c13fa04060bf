#include "bench/loadgen/client.hpp"

#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <chrono>
#include <string>

#include "bench/loadgen/frames.hpp"

namespace bench::loadgen {
namespace {

/// Connect + upgrade + handshake must finish within this; the relay's own
/// handshake deadline is 10 s.
constexpr auto open_deadline = std::chrono::seconds(10);
constexpr auto close_deadline = std::chrono::seconds(5);
/// Larger than any frame we send (a 64 KiB blob is ~240 KB of JSON), so Beast
/// masks and writes each message in one piece.
constexpr std::size_t write_buffer_bytes = 512 * 1024;

/// Writes the preamble (a PROXY header) before the upgrade request. Both
/// ways are HAProxy's: its header goes out "in the same segment or the next
/// one" as the client's first bytes. The socket's send buffer is empty
/// right after connect, so one non-blocking send takes all of it.
bool write_preamble(tcp::socket& socket, std::string_view preamble, preamble_segment mode)
{
    int const flags = MSG_NOSIGNAL | (mode == preamble_segment::with_request ? MSG_MORE : 0);
    return ::send(socket.native_handle(), preamble.data(), preamble.size(), flags) ==
        static_cast<ssize_t>(preamble.size());
}

} // namespace

void configure_client(ws_stream& ws)
{
    ws.binary(true);
    ws.auto_fragment(false);
    ws.write_buffer_bytes(write_buffer_bytes);
    ws.read_message_max(64u << 20);
    ws.secure_prng(false); // masks need not be unpredictable on loopback
}

net::awaitable<bool> open_session(ws_stream& ws, beast::flat_buffer& buffer, tcp::endpoint endpoint,
                                  std::string_view path, std::string_view handshake, std::string_view preamble,
                                  preamble_segment preamble_mode)
{
    auto& tcp_layer = beast::get_lowest_layer(ws);
    tcp_layer.expires_after(open_deadline);
    auto [cec] = co_await tcp_layer.async_connect(endpoint, use_nothrow);
    if (cec)
        co_return false;
    beast::error_code ignored;
    tcp_layer.socket().set_option(tcp::no_delay(true), ignored);
    if (!preamble.empty() && !write_preamble(tcp_layer.socket(), preamble, preamble_mode))
        co_return false;
    configure_client(ws);
    std::string const host = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    auto [hec] = co_await ws.async_handshake(host, path, use_nothrow);
    if (hec)
        co_return false;
    auto [wec, wn] = co_await ws.async_write(net::buffer(handshake.data(), handshake.size()), use_nothrow);
    if (wec)
        co_return false;
    buffer.clear();
    auto [rec, rn] = co_await ws.async_read(buffer, use_nothrow);
    if (rec)
        co_return false;
    auto const data = buffer.cdata();
    bool const ok = is_handshake_ack({static_cast<char const*>(data.data()), data.size()});
    tcp_layer.expires_never();
    co_return ok;
}

net::awaitable<void> close_session(ws_stream& ws)
{
    beast::get_lowest_layer(ws).expires_after(close_deadline);
    [[maybe_unused]] auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_nothrow);
}

} // namespace bench::loadgen
