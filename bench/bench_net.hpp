#pragma once
// Asio/Beast spellings shared by the floor server and the load generator
// (the same ones the worker uses in worker/asio_fwd.hpp, so both sides of the
// benchmark are built from the same library pieces as the relay).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using ws_stream = websocket::stream<beast::tcp_stream>;

/// Completion token for coroutines that look at the error instead of throwing.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

} // namespace bench
