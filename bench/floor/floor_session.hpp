#pragma once
// One WebSocket of the floor server: the session shape of the relay (a reader,
// a writer, a bounded queue) with nothing behind it. What it answers
// depends only on the request target of the upgrade, which Beast parses anyway:
//
//   any other target        echo: HandshakeAck, then a Stored ack per message
//   /bench/deliver?k=K&s=S  HandshakeAck + K canned S-byte deliveries; no answers
//   /bench/push/s/N         sender N: Stored + Delivered per message, the message
//                           itself forwarded to recipient N
//   /bench/push/r/N         recipient N: each message (an ack) makes sender N
//                           receive a ReceivedByRecipient ack
//
// The relay ignores the target (docs/protocol.md#s2-2), so the load generator uses the
// same URLs against both servers.

#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>

#include "bench/bench_net.hpp"
#include "bench/floor/canned_frames.hpp"
#include "bench/floor/push_registry.hpp"

namespace bench::floor {

/// One worker thread of the floor: its own io_context and SO_REUSEPORT socket,
/// as each relay worker process has.
struct floor_worker {
    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    canned_frames frames;
    push_registry* registry = nullptr;
    /// Echo sessions write each answer from the reader instead of queueing it
    /// for a writer coroutine (the cheapest possible server; see README).
    bool inline_echo = false;
};

enum class role { echo, deliver, push_sender, push_recipient };

struct route {
    role kind = role::echo;
    std::uint32_t pair = 0;      ///< push pair number
    std::uint32_t blobs = 0;     ///< deliver: K
    std::uint32_t blob_size = 0; ///< deliver: ciphertext bytes
};

/// The role a request target selects; unknown targets are echo.
route parse_route(std::string_view target);

class floor_session final : public std::enable_shared_from_this<floor_session> {
public:
    /// Beyond this many queued frames the peer is a slow consumer and is
    /// dropped (the relay does the same at 1024 frames or 8 MiB); the floor's
    /// limit is higher so a deliver burst of up to 16384 blobs always fits.
    static constexpr std::size_t max_queued_frames = 1u << 16;

    floor_session(floor_worker& worker, ws_stream ws, route r);

    void start();
    /// Queues a frame for the writer; only on this session's executor.
    void enqueue(frame_ptr frame);
    net::any_io_executor executor() { return ws_.get_executor(); }

private:
    net::awaitable<void> reader();
    net::awaitable<void> writer();
    void on_first_message();
    void on_message();
    /// Queues `frame` on the other end of this session's push pair, on its thread.
    void send_to_peer(frame_ptr frame);
    void abort();

    floor_worker& worker_;
    ws_stream ws_;
    route route_;
    beast::flat_buffer buffer_;
    std::deque<frame_ptr> queue_;
    net::steady_timer wake_;
    bool writer_waiting_ = false;
    bool handshaken_ = false;
    bool closed_ = false;
    std::weak_ptr<floor_session> peer_;
};

/// Reads the HTTP upgrade like the relay's http_front, then runs a session.
net::awaitable<void> serve_connection(floor_worker& worker, tcp::socket socket);

/// Accepts on the worker's socket until it is closed.
net::awaitable<void> accept_loop(floor_worker& worker);

/// A 1 s periodic timer, as the relay's worker heartbeat: it keeps Asio's
/// timerfd armed for the nearest second, so arming a connection's upgrade
/// deadline costs no timerfd_settime syscall on either server.
net::awaitable<void> heartbeat_loop(floor_worker& worker);

} // namespace bench::floor
