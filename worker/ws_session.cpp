#include "worker/ws_session.hpp"

#include <boost/beast/websocket.hpp>

#include "common/log.hpp"
#include "common/random.hpp"

namespace relay::worker {

namespace websocket = beast::websocket;

ws_session::ws_session(worker_services& services, session_registry& registry, stream_type ws, connection_slot slot,
                       std::chrono::steady_clock::time_point handshake_deadline)
    : services_(services),
      registry_(registry),
      ws_(std::move(ws)),
      slot_(std::move(slot)),
      handler_(services, *this),
      wake_(ws_.get_executor()),
      deadline_(ws_.get_executor()),
      handshake_deadline_(handshake_deadline),
      idle_deadline_(std::chrono::steady_clock::now() + std::chrono::seconds(services.cfg().idle_timeout_secs)),
      label_(random::session_label())
{
    registry_.add(this);
    services_.count(shm::counter::connections_total);
}

ws_session::~ws_session()
{
    registry_.remove(this);
    RELAY_LOG_DEBUG("session %s closed", label_.c_str());
}

void ws_session::start()
{
    ws_.binary(true);
    // Our own timers handle the handshake and idle deadlines; Beast's bounds
    // only the closing handshake, so a peer that never answers our Close frame
    // cannot hold a draining worker.
    websocket::stream_base::timeout limits{};
    limits.handshake_timeout = std::chrono::seconds(3);
    limits.idle_timeout = websocket::stream_base::none();
    limits.keep_alive_pings = false;
    ws_.set_option(limits);
    // Beyond this a message ends the connection (1009). Up to it, a message
    // over RELAY_MAX_MESSAGE_SIZE is dropped silently as PROTOCOL §10.1 says.
    ws_.read_message_max(std::max<std::uint64_t>(services_.cfg().max_message_size * 2, 64 * 1024));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
        // PROTOCOL §4.2: a control frame before the handshake is [CLOSE]; after
        // it, Beast answers pings itself and every frame restarts the idle timer.
        if (!handler_.handshaken() && kind != websocket::frame_type::close) {
            abort();
            return;
        }
        touch();
    });
    auto self = shared_from_this();
    net::co_spawn(ws_.get_executor(), [self]() { return self->reader(); }, net::detached);
    net::co_spawn(ws_.get_executor(), [self]() { return self->writer(); }, net::detached);
    net::co_spawn(ws_.get_executor(), [self]() { return self->watchdog(); }, net::detached);
}

net::awaitable<void> ws_session::reader()
{
    while (!closed_) {
        buffer_.clear();
        auto [ec, n] = co_await ws_.async_read(buffer_, use_nothrow);
        if (ec) {
            abort();
            co_return;
        }
        touch();
        auto const data = buffer_.cdata();
        std::string_view const frame(static_cast<char const*>(data.data()), data.size());
        if (!handler_.handshaken()) {
            if (!ws_.got_binary() || handler_.on_handshake(frame) == connection_handler::verdict::close) {
                abort();
                co_return;
            }
            // Accepted just before a drain: the client still gets its
            // HandshakeAck and pending blobs, then 1001, rather than a reset.
            if (going_away_ || services_.draining())
                go_away();
            continue;
        }
        if (ws_.got_binary())
            handler_.on_message(frame);
        // Text frames are ignored after the handshake (§4.5).
    }
}

net::awaitable<void> ws_session::writer()
{
    while (!closed_) {
        std::string frame;
        if (!frames_.empty()) {
            frame = std::move(frames_.front());
            frames_.pop_front();
            queued_bytes_ -= frame.size();
        } else if (!blobs_.empty()) {
            auto const ref = blobs_.front();
            blobs_.pop_front();
            auto loaded = handler_.load_delivery(ref);
            if (!loaded)
                continue; // acknowledged or expired since it was queued
            frame = std::move(*loaded);
        } else if (going_away_ && handler_.handshaken()) {
            [[maybe_unused]] auto [ec] = co_await ws_.async_close(websocket::close_code::going_away, use_nothrow);
            abort();
            co_return;
        } else {
            wake_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await wake_.async_wait(use_nothrow);
            continue;
        }
        auto [ec, n] = co_await ws_.async_write(net::buffer(frame), use_nothrow);
        if (ec) {
            abort();
            co_return;
        }
        services_.count(shm::counter::messages_sent_total);
    }
}

net::awaitable<void> ws_session::watchdog()
{
    // One timer for both deadlines: the handshake must complete by its
    // deadline (D-1), and afterwards the connection must not idle past
    // RELAY_IDLE_TIMEOUT (§4.6). Either expiry is [CLOSE].
    while (!closed_) {
        auto const due = handler_.handshaken() ? idle_deadline_ : std::min(handshake_deadline_, idle_deadline_);
        if (std::chrono::steady_clock::now() >= due) {
            RELAY_LOG_DEBUG("session %s timed out", label_.c_str());
            abort();
            co_return;
        }
        deadline_.expires_at(due);
        co_await deadline_.async_wait(use_nothrow);
    }
}

void ws_session::abort()
{
    if (closed_)
        return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
    wake_.cancel();
    deadline_.cancel();
}

void ws_session::wake_writer() { wake_.cancel(); }

void ws_session::send_frame(std::string frame)
{
    if (closed_)
        return;
    if (frames_.size() >= max_queued_frames || queued_bytes_ + frame.size() > max_queued_bytes) {
        services_.count(shm::counter::slow_consumers_closed_total);
        RELAY_LOG_INFO("session %s closed: it does not read its replies (send queue full)", label_.c_str());
        abort();
        return;
    }
    queued_bytes_ += frame.size();
    frames_.push_back(std::move(frame));
    wake_writer();
}

void ws_session::queue_blob(shm::blob_ref const& ref)
{
    if (closed_ || blobs_overflowed_ || blobs_.size() >= max_queued_blobs) {
        // Stays stored and is delivered at the next connect. Every later blob
        // is skipped too, so that nothing newer overtakes it.
        blobs_overflowed_ = true;
        return;
    }
    blobs_.push_back(ref);
    wake_writer();
}

void ws_session::touch()
{
    idle_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(services_.cfg().idle_timeout_secs);
}

void ws_session::go_away()
{
    // Before the handshake the reader finishes it first (or the handshake
    // deadline ends the session); the writer closes once it is done.
    going_away_ = true;
    wake_writer();
}

} // namespace relay::worker
