#pragma once
// Common Asio/Beast spellings for the worker's transport files.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace relay::worker {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

/// Completion token for coroutines that look at the error instead of throwing.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

} // namespace relay::worker
