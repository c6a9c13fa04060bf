#include "ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/test/unit_test.hpp>

#include "common/random.hpp"
#include "noise/initiator.hpp"

namespace relay::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct ws_client::impl {
    using plain_ws = websocket::stream<beast::tcp_stream>;
    using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

    net::io_context ioc;
    std::optional<net::ssl::context> tls_context;
    // Exactly one is set: a ws:// or a wss:// connection.
    std::unique_ptr<plain_ws> plain;
    std::unique_ptr<tls_ws> tls;
    beast::flat_buffer buffer;
    bool pong = false;
    bool closed = false;
    bool reading = false; ///< an async_read is outstanding (survives a timeout)
    bool done = false;
    beast::error_code result;
    std::optional<noise::transport> noise;

    enum class outcome { message, timeout, closed };

    /// Calls `f` with the WebSocket stream, whichever it is.
    template <class F>
    decltype(auto) with_ws(F&& f)
    {
        return plain ? f(*plain) : f(*tls);
    }
    beast::tcp_stream& tcp() { return plain ? beast::get_lowest_layer(*plain) : beast::get_lowest_layer(*tls); }

    /// TCP connect from `o.source`, the preamble, TLS if asked, then the
    /// upgrade with `o.headers`; throws on failure, with the HTTP status of a
    /// refused upgrade in `status`.
    void open(std::uint16_t port, connect_options const& o, unsigned& status)
    {
        if (!o.tls_ca_file.empty()) {
            tls_context.emplace(net::ssl::context::tls_client);
            tls_context->set_verify_mode(net::ssl::verify_peer);
            tls_context->load_verify_file(o.tls_ca_file);
            tls = std::make_unique<tls_ws>(ioc, *tls_context);
        } else {
            plain = std::make_unique<plain_ws>(ioc);
        }
        auto& s = tcp();
        s.expires_after(5s);
        if (!o.source.empty()) {
            s.socket().open(net::ip::tcp::v4());
            s.socket().bind({net::ip::make_address(o.source), 0});
        }
        s.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        if (!o.preamble.empty())
            net::write(s.socket(), net::buffer(o.preamble));
        if (tls) {
            // Verify the chain against the test CA and the name against the
            // certificate, as a real client does.
            SSL_set_tlsext_host_name(tls->next_layer().native_handle(), o.tls_host.c_str());
            tls->next_layer().set_verify_callback(net::ssl::host_name_verification(o.tls_host));
            tls->next_layer().handshake(net::ssl::stream_base::client);
        }
        with_ws([&](auto& ws) {
            ws.set_option(websocket::stream_base::decorator([headers = o.headers](websocket::request_type& req) {
                for (auto const& [name, value] : headers)
                    req.insert(name, value);
            }));
            websocket::response_type response;
            beast::error_code ec;
            ws.handshake(response, o.tls_ca_file.empty() ? "127.0.0.1:" + std::to_string(port) : o.tls_host, o.path,
                         ec);
            // A refused upgrade has a response; a closed connection has none.
            status = !ec ? 101u : ec == websocket::error::upgrade_declined ? response.result_int() : 0u;
            if (ec)
                throw beast::system_error(ec);
        });
        s.expires_never();
        with_ws([&](auto& ws) {
            ws.binary(true);
            ws.read_message_max(64u << 20);
            ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
                if (kind == websocket::frame_type::pong)
                    pong = true;
            });
        });
    }

    // One outstanding async read driven by run_for, so every wait is bounded
    // and a timeout leaves the read pending for the next call (cancelling a
    // WebSocket read would tear the stream down).
    outcome read_one(std::chrono::milliseconds timeout, std::string& out, bool& binary)
    {
        if (closed)
            return outcome::closed;
        if (!reading) {
            buffer.clear();
            reading = true;
            done = false;
            with_ws([this](auto& ws) {
                ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
                    done = true;
                    result = ec;
                });
            });
        }
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            ioc.restart();
            ioc.run_one_until(deadline);
        }
        if (!done)
            return outcome::timeout;
        reading = false;
        if (result) {
            closed = true;
            return outcome::closed;
        }
        binary = with_ws([](auto& ws) { return ws.got_binary(); });
        auto const data = buffer.cdata();
        out.assign(static_cast<char const*>(data.data()), data.size());
        return outcome::message;
    }
};

ws_client::ws_client(std::uint16_t port, std::string const& path, std::string const& source)
    : impl_(std::make_unique<impl>())
{
    connect_options o;
    o.path = path;
    o.source = source;
    unsigned status = 0;
    impl_->open(port, o, status);
}

ws_client::ws_client(std::uint16_t port, connect_options const& options) : impl_(std::make_unique<impl>())
{
    unsigned status = 0;
    impl_->open(port, options, status);
}

unsigned ws_client::upgrade_status(std::uint16_t port, connect_options const& options)
{
    impl attempt;
    unsigned status = 0;
    try {
        attempt.open(port, options, status);
    } catch (std::exception const&) {
        return status;
    }
    return 101;
}

ws_client::~ws_client()
{
    beast::error_code ec;
    impl_->tcp().socket().close(ec);
}

void ws_client::send_raw(std::string const& bytes)
{
    impl_->with_ws([&](auto& ws) {
        ws.binary(true);
        ws.write(net::buffer(bytes));
    });
}

void ws_client::send_binary(std::string const& bytes)
{
    if (!impl_->noise) {
        send_raw(bytes);
        return;
    }
    std::vector<std::uint8_t> sealed;
    BOOST_REQUIRE(impl_->noise->encrypt({reinterpret_cast<std::uint8_t const*>(bytes.data()), bytes.size()}, sealed));
    send_raw(std::string(reinterpret_cast<char const*>(sealed.data()), sealed.size()));
}

bool ws_client::noise_handshake(std::array<std::uint8_t, 32> const& relay_public_key)
{
    noise::initiator initiator(relay_public_key);
    auto const m1 = initiator.write_message_1();
    BOOST_REQUIRE(m1.has_value());
    std::string opening("\0V2", 3);
    opening.append(reinterpret_cast<char const*>(m1->data()), m1->size());
    send_raw(opening);
    auto const reply = receive();
    if (!reply || reply->size() != 51 || reply->compare(0, 3, std::string("\0V2", 3)) != 0)
        return false;
    if (!initiator.read_message_2({reinterpret_cast<std::uint8_t const*>(reply->data()) + 3, reply->size() - 3}))
        return false;
    auto session = initiator.split();
    if (!session)
        return false;
    impl_->noise.emplace(std::move(*session));
    return true;
}

void ws_client::send_text(std::string const& text)
{
    impl_->with_ws([&](auto& ws) {
        ws.text(true);
        ws.write(net::buffer(text));
        ws.binary(true);
    });
}

void ws_client::send_fragmented(std::string const& bytes, std::size_t fragment)
{
    impl_->with_ws([&](auto& ws) {
        ws.binary(true);
        std::size_t at = 0;
        while (bytes.size() - at > fragment) {
            ws.write_some(false, net::buffer(bytes.data() + at, fragment));
            at += fragment;
        }
        ws.write_some(true, net::buffer(bytes.data() + at, bytes.size() - at));
    });
}

void ws_client::ping()
{
    impl_->with_ws([](auto& ws) { ws.ping({}); });
}

bool ws_client::pong_received() const { return impl_->pong; }

unsigned ws_client::close_code() const
{
    return impl_->with_ws([](auto& ws) { return static_cast<unsigned>(ws.reason().code); });
}

std::optional<std::string> ws_client::receive(std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        std::string out;
        bool binary = false;
        auto const r = impl_->read_one(left, out, binary);
        if (r != impl::outcome::message)
            return std::nullopt;
        if (!binary)
            continue;
        if (impl_->noise) {
            std::vector<std::uint8_t> plain;
            bool const ok =
                impl_->noise->decrypt({reinterpret_cast<std::uint8_t const*>(out.data()), out.size()}, plain);
            BOOST_REQUIRE_MESSAGE(ok, "relay sent a Noise message that does not decrypt");
            out.assign(reinterpret_cast<char const*>(plain.data()), plain.size());
        }
        return out;
    }
}

std::optional<protocol::envelope> ws_client::receive_envelope(std::chrono::milliseconds timeout)
{
    auto bytes = receive(timeout);
    if (!bytes)
        return std::nullopt;
    auto decoded = protocol::decode_frame(*bytes);
    BOOST_REQUIRE_MESSAGE(decoded.has_value(), "relay sent an undecodable frame");
    // The relay always writes the exact length prefix (docs/protocol.md#s3-1).
    std::uint32_t const prefix = (std::uint32_t(std::uint8_t((*bytes)[0])) << 24) |
        (std::uint32_t(std::uint8_t((*bytes)[1])) << 16) | (std::uint32_t(std::uint8_t((*bytes)[2])) << 8) |
        std::uint8_t((*bytes)[3]);
    BOOST_CHECK_EQUAL(prefix, bytes->size() - 4);
    return *decoded;
}

bool ws_client::closed_within(std::chrono::milliseconds timeout)
{
    std::string out;
    bool binary = false;
    return impl_->read_one(timeout, out, binary) == impl::outcome::closed;
}

bool ws_client::silent_for(std::chrono::milliseconds timeout)
{
    std::string out;
    bool binary = false;
    return impl_->read_one(timeout, out, binary) == impl::outcome::timeout;
}

std::string frame_of(protocol::payload const& body, std::string const& message_id)
{
    protocol::envelope e;
    e.message_id = message_id;
    e.timestamp = static_cast<std::uint64_t>(std::time(nullptr));
    e.body = body;
    return protocol::encode_frame(e);
}

std::string handshake_frame(std::string const& client_id, handshake_options const& o)
{
    protocol::handshake h;
    h.client_id = client_id;
    h.routing_token = o.routing_token;
    h.device_id = o.device_id;
    h.suppress_presence = o.suppress_presence;
    h.identity_public_key = o.identity_public_key;
    h.nonce = o.nonce;
    h.signature = o.signature;
    h.timestamp = o.timestamp;
    return frame_of(h, random::new_uuid_string());
}

std::string update_frame(std::string const& recipient, std::vector<std::uint8_t> const& ciphertext,
                         std::string const& message_id)
{
    protocol::encrypted_update u;
    u.recipient_id = recipient;
    u.ciphertext = ciphertext;
    return frame_of(u, message_id);
}

std::string ack_frame(std::string const& message_id, protocol::ack_status status)
{
    protocol::acknowledgment a;
    a.message_id = message_id;
    a.status = status;
    return frame_of(a, random::new_uuid_string());
}

std::string random_id()
{
    static constexpr char digits[] = "0123456789abcdef";
    std::vector<std::uint8_t> raw(32);
    random::fill(raw);
    std::string out;
    for (auto b : raw) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

std::vector<std::uint8_t> random_bytes(std::size_t n)
{
    std::vector<std::uint8_t> v(n);
    random::fill(v);
    return v;
}

std::unique_ptr<ws_client> connect_as(std::uint16_t port, std::string const& client_id, handshake_options const& o)
{
    auto c = std::make_unique<ws_client>(port, "/ws");
    c->send_binary(handshake_frame(client_id, o));
    auto ack = c->receive_envelope();
    BOOST_REQUIRE_MESSAGE(ack.has_value(), "no HandshakeAck");
    BOOST_REQUIRE(std::holds_alternative<protocol::handshake_ack>(ack->body));
    return c;
}

std::unique_ptr<ws_client> connect_noise_as(std::uint16_t port, std::array<std::uint8_t, 32> const& relay_public_key,
                                            std::string const& client_id, handshake_options const& o)
{
    auto c = std::make_unique<ws_client>(port, "/ws");
    BOOST_REQUIRE_MESSAGE(c->noise_handshake(relay_public_key), "Noise handshake failed");
    c->send_binary(handshake_frame(client_id, o));
    auto ack = c->receive_envelope();
    BOOST_REQUIRE_MESSAGE(ack.has_value(), "no HandshakeAck");
    auto const* hs = std::get_if<protocol::handshake_ack>(&ack->body);
    BOOST_REQUIRE(hs != nullptr);
    BOOST_REQUIRE(std::find(hs->features.begin(), hs->features.end(), "noise_nk") != hs->features.end());
    return c;
}

} // namespace relay::testing
