#include "bench/floor/floor_session.hpp"

#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <charconv>
#include <chrono>

namespace bench::floor {
namespace {

namespace http = beast::http;

/// The same header limit and upgrade deadline as the relay's http_front.
constexpr std::uint32_t max_request_header_bytes = 8 * 1024;
constexpr auto upgrade_deadline = std::chrono::seconds(10);
/// The relay's read_message_max for the default RELAY_MAX_MESSAGE_SIZE.
constexpr std::uint64_t read_message_max = 2u << 20;

std::uint32_t number_after(std::string_view text, std::string_view key)
{
    auto const at = text.find(key);
    if (at == std::string_view::npos)
        return 0;
    std::uint32_t value = 0;
    auto const* first = text.data() + at + key.size();
    std::from_chars(first, text.data() + text.size(), value);
    return value;
}

} // namespace

route parse_route(std::string_view target)
{
    route r;
    if (target.starts_with("/bench/deliver")) {
        r.kind = role::deliver;
        // Bounded so a typo cannot make the floor queue millions of frames.
        r.blobs = std::min<std::uint32_t>(number_after(target, "k="), 16384);
        r.blob_size = std::min<std::uint32_t>(number_after(target, "s="), 1u << 20);
    } else if (target.starts_with("/bench/push/s/")) {
        r.kind = role::push_sender;
        r.pair = number_after(target, "/s/");
    } else if (target.starts_with("/bench/push/r/")) {
        r.kind = role::push_recipient;
        r.pair = number_after(target, "/r/");
    }
    return r;
}

floor_session::floor_session(floor_worker& worker, ws_stream ws, route r)
    : worker_(worker), ws_(std::move(ws)), route_(r), wake_(ws_.get_executor())
{
}

void floor_session::start()
{
    // The relay's stream settings (worker/ws_session.cpp), so Beast does the
    // same work per frame on both servers.
    ws_.binary(true);
    websocket::stream_base::timeout limits{};
    limits.handshake_timeout = std::chrono::seconds(3);
    limits.idle_timeout = websocket::stream_base::none();
    limits.keep_alive_pings = false;
    ws_.set_option(limits);
    ws_.read_message_max(read_message_max);
    auto self = shared_from_this();
    net::co_spawn(
        ws_.get_executor(), [self]() { return self->reader(); }, net::detached);
    if (!(worker_.inline_echo && route_.kind == role::echo))
        net::co_spawn(
            ws_.get_executor(), [self]() { return self->writer(); }, net::detached);
}

net::awaitable<void> floor_session::reader()
{
    bool const inline_echo = worker_.inline_echo && route_.kind == role::echo;
    while (!closed_) {
        buffer_.clear();
        auto [ec, n] = co_await ws_.async_read(buffer_, use_nothrow);
        if (ec) {
            abort();
            co_return;
        }
        if (!ws_.got_binary())
            continue;
        if (inline_echo) {
            auto const& answer = handshaken_ ? worker_.frames.stored_ack() : worker_.frames.handshake_ack();
            handshaken_ = true;
            auto [wec, wn] = co_await ws_.async_write(net::buffer(*answer), use_nothrow);
            if (wec) {
                abort();
                co_return;
            }
            continue;
        }
        if (!handshaken_) {
            handshaken_ = true;
            on_first_message();
        } else {
            on_message();
        }
    }
}

void floor_session::on_first_message()
{
    enqueue(worker_.frames.handshake_ack());
    switch (route_.kind) {
    case role::deliver: {
        auto const& blob = worker_.frames.delivery(route_.blob_size);
        for (std::uint32_t i = 0; i < route_.blobs; ++i)
            enqueue(blob);
        break;
    }
    case role::push_sender:
    case role::push_recipient:
        worker_.registry->add(route_.kind == role::push_sender, route_.pair, weak_from_this());
        break;
    case role::echo:
        break;
    }
}

void floor_session::on_message()
{
    switch (route_.kind) {
    case role::echo:
        enqueue(worker_.frames.stored_ack());
        break;
    case role::deliver:
        break; // the recipient's acks need no answer, as in the relay
    case role::push_sender: {
        // The relay's I/O for one live push: Stored to the sender, the update
        // to the recipient, Delivered back to the sender once it is handed over.
        enqueue(worker_.frames.stored_ack());
        auto const data = buffer_.cdata();
        send_to_peer(std::make_shared<std::string const>(static_cast<char const*>(data.data()), data.size()));
        enqueue(worker_.frames.delivered_ack());
        break;
    }
    case role::push_recipient:
        // The recipient's ReceivedByRecipient is forwarded to the sender (D-7).
        send_to_peer(worker_.frames.received_ack());
        break;
    }
}

void floor_session::send_to_peer(frame_ptr frame)
{
    auto peer = peer_.lock();
    if (!peer) {
        peer = worker_.registry->find(route_.kind != role::push_sender, route_.pair);
        if (!peer)
            return; // not connected: dropped, as the relay drops best-effort notifications
        peer_ = peer;
    }
    if (peer->executor() == executor()) {
        peer->enqueue(std::move(frame));
        return;
    }
    net::post(peer->executor(), [peer, frame = std::move(frame)]() mutable { peer->enqueue(std::move(frame)); });
}

void floor_session::enqueue(frame_ptr frame)
{
    if (closed_)
        return;
    if (queue_.size() >= max_queued_frames) {
        abort();
        return;
    }
    queue_.push_back(std::move(frame));
    if (writer_waiting_)
        wake_.cancel();
}

net::awaitable<void> floor_session::writer()
{
    while (!closed_) {
        if (queue_.empty()) {
            writer_waiting_ = true;
            wake_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await wake_.async_wait(use_nothrow);
            writer_waiting_ = false;
            continue;
        }
        frame_ptr frame = std::move(queue_.front());
        queue_.pop_front();
        auto [ec, n] = co_await ws_.async_write(net::buffer(*frame), use_nothrow);
        if (ec) {
            abort();
            co_return;
        }
    }
}

void floor_session::abort()
{
    if (closed_)
        return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
    wake_.cancel();
}

net::awaitable<void> serve_connection(floor_worker& worker, tcp::socket socket)
{
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(upgrade_deadline);
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(max_request_header_bytes);
    parser.body_limit(0);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec || !websocket::is_upgrade(parser.get()))
        co_return;
    route const r = parse_route(parser.get().target());
    ws_stream ws(std::move(stream));
    auto [aec] = co_await ws.async_accept(parser.get(), use_nothrow);
    if (aec)
        co_return;
    beast::get_lowest_layer(ws).expires_never();
    auto session = std::make_shared<floor_session>(worker, std::move(ws), r);
    session->start();
}

net::awaitable<void> accept_loop(floor_worker& worker)
{
    net::steady_timer backoff(worker.ioc);
    for (;;) {
        auto [ec, socket] = co_await worker.acceptor.async_accept(use_nothrow);
        if (ec == net::error::operation_aborted || !worker.acceptor.is_open())
            co_return;
        if (ec) {
            // EMFILE and friends: let the backlog wait, as the relay does.
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_nothrow);
            continue;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored); // as the relay does
        net::co_spawn(worker.ioc, serve_connection(worker, std::move(socket)), net::detached);
    }
}

net::awaitable<void> heartbeat_loop(floor_worker& worker)
{
    net::steady_timer timer(worker.ioc);
    while (worker.acceptor.is_open()) {
        timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer.async_wait(use_nothrow);
        if (ec)
            co_return;
    }
}

} // namespace bench::floor
