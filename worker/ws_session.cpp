#include "worker/ws_session.hpp"

#include <boost/beast/websocket.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <tuple>

#include "common/log.hpp"
#include "common/random.hpp"
#include "noise/responder.hpp"

namespace relay::worker {

namespace websocket = beast::websocket;

namespace {

/// docs/protocol.md#s4-2: a binary first message of at least 51 bytes starting with
/// NUL 'V' '2' opens a Noise session.
constexpr std::string_view noise_magic{"\0V2", 3};
constexpr std::size_t noise_opening_min = 51;
/// A Noise message is at most 65 535 bytes; a Handshake frame is a few hundred.
constexpr std::size_t pre_handshake_message_max = 3 + 65535;

/// Frees a reused buffer (vector or string) that one large message grew
/// beyond `kept` bytes.
template <class Buffer>
void release_if_larger(Buffer& buffer, std::size_t kept)
{
    if (buffer.capacity() > kept)
        Buffer().swap(buffer);
}

bool is_noise_opening(std::string_view first)
{
    return first.size() >= noise_opening_min && first.starts_with(noise_magic);
}

std::span<std::uint8_t const> as_bytes(std::string_view s)
{
    return {reinterpret_cast<std::uint8_t const*>(s.data()), s.size()};
}

} // namespace

ws_session::ws_session(worker_services& services, session_registry& registry, stream_type ws, connection_slot slot,
                       std::chrono::steady_clock::time_point handshake_deadline)
    : services_(services), registry_(registry), ws_(std::move(ws)), slot_(std::move(slot)), handler_(services, *this),
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
    // Before the handshake only a Noise opening or a Handshake frame may come,
    // both far below 64 KiB: a stranger cannot make us buffer more.
    ws_.read_message_max(pre_handshake_message_max);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
        // docs/protocol.md#s4-2: a control frame before the handshake is [CLOSE]; after
        // it, Beast answers pings itself and every frame restarts the idle timer.
        if (!handler_.handshaken() && kind != websocket::frame_type::close) {
            abort();
            return;
        }
        touch();
    });
    auto self = shared_from_this();
    // One coroutine per session, the reader. Writes are started by whoever
    // queues a frame and chained from their completions (pump()); deadlines
    // are checked by the worker's sweep (session_registry::sweep()). An idle session
    // then holds no writer frame, no timer and no pending timer wait: about
    // 2 KiB less per idle connection than a writer and a watchdog coroutine.
    net::co_spawn(
        ws_.get_executor(), [self]() { return self->reader(); }, net::detached);
}

net::awaitable<void> ws_session::reader()
{
    while (!closed_) {
        buffer_.clear();
        // One large message must not stay allocated for the connection's life.
        if (buffer_.capacity() > kept_read_capacity)
            buffer_.shrink_to_fit();
        // The first piece of a message is read with a small limit: that is
        // all an idle connection's pending read holds (Beast's own read would
        // prepare 1.5 KiB). A connection that sent before reads up to what its
        // buffer already holds, so a message of the size it sent last takes
        // one read rather than two. The rest follows in pieces of Beast's size.
        std::size_t const first_read = std::max(first_read_limit, buffer_.capacity());
        auto [ec, n] = co_await ws_.async_read_some(buffer_, first_read, use_nothrow);
        while (!ec && !ws_.is_message_done())
            std::tie(ec, n) = co_await ws_.async_read_some(buffer_, 0, use_nothrow);
        if (ec) {
            abort();
            co_return;
        }
        touch();
        auto const data = buffer_.cdata();
        std::string_view frame(static_cast<char const*>(data.data()), data.size());
        if (!handler_.handshaken()) {
            if (!ws_.got_binary()) {
                abort();
                co_return;
            }
            if (!noise_ && is_noise_opening(frame)) {
                if (!co_await noise_handshake(frame)) {
                    abort();
                    co_return;
                }
                continue; // the next message is the encrypted Handshake (§9.2 step 4)
            }
            if (!noise_ && services_.cfg().require_noise) {
                abort(); // RELAY_REQUIRE_NOISE_ENCRYPTION drops every v1 opening (§9.2)
                co_return;
            }
            if (noise_) {
                if (!noise_->decrypt(as_bytes(frame), noise_in_)) {
                    abort(); // §9.2 step 4: decryption failure is [CLOSE]
                    co_return;
                }
                frame = std::string_view(reinterpret_cast<char const*>(noise_in_.data()), noise_in_.size());
            }
            if (handler_.on_handshake(frame, noise_.has_value()) == connection_handler::verdict::close) {
                abort();
                co_return;
            }
            // Beyond this a message ends the connection (1009). Up to it, a message
            // over RELAY_MAX_MESSAGE_SIZE is dropped silently as docs/protocol.md#s10-1 says.
            ws_.read_message_max(std::max<std::uint64_t>(services_.cfg().max_message_size * 2, 64 * 1024));
            // Accepted just before a drain: the client still gets its
            // HandshakeAck and pending blobs, then 1001, rather than a reset.
            if (going_away_ || services_.draining())
                go_away();
            // Many connections idle from here on: keep nothing of the handshake.
            buffer_.clear();
            buffer_.shrink_to_fit();
            continue;
        }
        if (!ws_.got_binary())
            continue; // text frames are ignored after the handshake (§4.5)
        if (noise_) {
            // §4.5 step 1: a message that does not decrypt is [SILENT] and does
            // not advance the receive counter.
            if (!noise_->decrypt(as_bytes(frame), noise_in_)) {
                services_.count(shm::counter::noise_decrypt_failures_total);
                continue;
            }
            frame = std::string_view(reinterpret_cast<char const*>(noise_in_.data()), noise_in_.size());
        }
        handler_.on_message(frame);
        // Like the read buffer: one large message must not stay allocated.
        release_if_larger(noise_in_, kept_read_capacity);
    }
}

void ws_session::pump()
{
    if (writing_ || closed_)
        return;
    // Set before choosing, so that nothing reached from here (a delivery
    // being loaded) can start a second write.
    writing_ = true;
    std::string frame;
    for (;;) {
        if (!frames_.empty()) {
            if (frames_.front().durable_generation > services_.commit_gate().durable()) {
                // A Stored ack whose record is not on disk yet (RELAY_SYNC_COMMIT=on):
                // it and everything behind it wait for the flush (on_durable()).
                cork(false);
                writing_ = false;
                return;
            }
            frame = std::move(frames_.pop_front().bytes);
            queued_bytes_ -= frame.size();
        } else if (!blobs_.empty()) {
            auto const ref = blobs_.pop_front();
            auto loaded = handler_.load_delivery(ref);
            if (!loaded)
                continue; // acknowledged or expired since it was queued
            frame = std::move(loaded->frame);
            if (loaded->delivered_due)
                delivered_due_ = ref;
        } else if (blobs_overflowed_) {
            // The blob queue has drained after refusing blobs: list them now.
            blobs_overflowed_ = false;
            handler_.catch_up();
            continue;
        } else {
            cork(false); // the queue is drained: what was held back goes out now
            if (going_away_ && handler_.handshaken()) {
                ws_.async_close(websocket::close_code::going_away,
                                [self = shared_from_this()](beast::error_code) { self->abort(); });
                return; // writing_ stays set: nothing is written after the Close frame
            }
            writing_ = false;
            return;
        }
        if (seal(frame))
            break;
        delivered_due_.reset(); // skipped: nothing was delivered
    }
    // Frames queued behind this one (a connecting recipient's pending blobs,
    // acks of pipelined updates) are written one by one, each with its own
    // sendmsg. Corked, the kernel packs them into full segments instead of
    // sending, and on loopback receiving, one small segment per frame. The
    // cork comes off before the last queued frame is written, which flushes
    // what was held back; a lone frame (an ack, a push) is never held back.
    cork(!frames_.empty() || !blobs_.empty());
    // The frame must outlive the write; it is released afterwards unless small.
    in_flight_ = std::move(frame);
    ws_.async_write(net::buffer(in_flight_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
}

void ws_session::on_written(beast::error_code ec)
{
    writing_ = false;
    release_if_larger(in_flight_, kept_frame_capacity);
    if (ec) {
        abort();
        return;
    }
    services_.count(shm::counter::messages_sent_total);
    if (delivered_due_) {
        auto const ref = *delivered_due_;
        delivered_due_.reset();
        handler_.on_delivery_written(ref);
    }
    pump();
}

net::awaitable<bool> ws_session::noise_handshake(std::string_view opening)
{
    if (!services_.noise_key())
        co_return false;
    noise::responder responder(*services_.noise_key());
    if (!responder.read_message_1(as_bytes(opening.substr(noise_magic.size()))))
        co_return false; // §9.2 step 2: e.g. the client used another relay's key
    auto reply = responder.write_message_2();
    auto session = responder.split();
    if (!reply || !session)
        co_return false;
    std::string message(noise_magic);
    message.append(reinterpret_cast<char const*>(reply->data()), reply->size());
    // Nothing else is queued before the Handshake, so no write is in flight;
    // writing_ keeps pump() from starting one meanwhile.
    writing_ = true;
    auto [ec, n] = co_await ws_.async_write(net::buffer(message), use_nothrow);
    writing_ = false;
    pump(); // nothing can be queued yet; kept so that nothing queued could ever stall
    if (ec)
        co_return false;
    noise_.emplace(std::move(*session));
    services_.count(shm::counter::noise_sessions_total);
    co_return true;
}

bool ws_session::seal(std::string& frame)
{
    if (!noise_)
        return true;
    if (!noise_->encrypt(as_bytes(frame), noise_out_)) {
        services_.count(shm::counter::noise_frames_skipped_total);
        RELAY_LOG_WARN("session %s: a %zu-byte frame exceeds the Noise message limit and was not sent (it stays "
                       "stored; the client can fetch it over a v1 connection)",
                       label_.c_str(), frame.size());
        return false;
    }
    frame.assign(reinterpret_cast<char const*>(noise_out_.data()), noise_out_.size());
    release_if_larger(noise_out_, kept_frame_capacity);
    return true;
}

void session_registry::add(ws_session* s)
{
    s->registry_index_ = sessions_.size();
    sessions_.push_back(s);
}

void session_registry::remove(ws_session* s)
{
    std::size_t const at = s->registry_index_;
    sessions_[at] = sessions_.back();
    sessions_[at]->registry_index_ = at;
    sessions_.pop_back();
}

void session_registry::sweep(std::chrono::steady_clock::time_point now)
{
    // abort() only closes the socket: no session leaves the registry before
    // its coroutine resumes, so the vector does not change during the loop.
    for (ws_session* s : sessions_) {
        s->check_deadlines(now);
        s->poll_mailbox();
    }
}

void ws_session::check_deadlines(std::chrono::steady_clock::time_point now)
{
    // The handshake must complete by its deadline (D-1), and afterwards the
    // connection must not idle past RELAY_IDLE_TIMEOUT (§4.6). Either expiry
    // is [CLOSE].
    if (closed_)
        return;
    auto const due = handler_.handshaken() ? idle_deadline_ : std::min(handshake_deadline_, idle_deadline_);
    if (now >= due) {
        if (going_away_ && !handler_.handshaken()) {
            close_going_away(); // drained before its Handshake came
            return;
        }
        RELAY_LOG_DEBUG("session %s timed out", label_.c_str());
        abort();
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
}

void ws_session::cork(bool on)
{
    if (corked_ == on || closed_)
        return;
    corked_ = on;
    int const value = on ? 1 : 0;
    // Cannot fail on an open TCP socket. Were it to, the frames would still
    // go: unbatched, or at the latest at the kernel's 200 ms cork limit.
    (void)::setsockopt(beast::get_lowest_layer(ws_).socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value,
                       sizeof value);
}

void ws_session::send_frame(std::string frame, std::uint64_t durable_generation)
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
    frames_.push_back({std::move(frame), durable_generation});
    pump();
}

bool ws_session::queue_blob(shm::blob_ref const& ref)
{
    if (closed_)
        return false;
    if (blobs_overflowed_ || blobs_.size() >= max_queued_blobs) {
        // Stays stored; every later blob is refused too, so that nothing newer
        // overtakes it, until the queue has drained and the handler catches up.
        blobs_overflowed_ = true;
        return false;
    }
    blobs_.push_back(ref);
    pump();
    return true;
}

void ws_session::touch()
{
    idle_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(services_.cfg().idle_timeout_secs);
}

void ws_session::go_away()
{
    going_away_ = true;
    if (!handler_.handshaken()) {
        // A Handshake already on its way is still served (HandshakeAck,
        // pending blobs, then 1001), so a client that connected just as a
        // reload drained this worker is not turned away. One that sends
        // nothing gets 1001 after a short grace, rather than holding the
        // drain until its handshake deadline (check_deadlines()).
        handshake_deadline_ = std::min(handshake_deadline_, std::chrono::steady_clock::now() + drain_handshake_grace);
        return;
    }
    // The writer closes once what is queued has gone out.
    pump();
}

void ws_session::close_going_away()
{
    if (closing_ || closed_)
        return; // the Close is on its way; Beast bounds the peer's answer
    if (writing_) {
        abort(); // the Noise reply is being written: no frame can follow it now
        return;
    }
    closing_ = true;
    writing_ = true; // nothing is written after the Close frame
    ws_.async_close(beast::websocket::close_code::going_away,
                    [self = shared_from_this()](beast::error_code) { self->abort(); });
}

} // namespace relay::worker
