#pragma once
// A real WebSocket client for integration tests (Beast, synchronous API with
// timeouts), plus builders for the protocol frames tests send.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/protocol/codec.hpp"

namespace relay::testing {

using namespace std::chrono_literals;

/// How a ws_client connects: directly or through a TLS proxy, from which
/// source address, and with what in front of or inside the upgrade.
struct connect_options {
    std::string path = "/";
    /// The local address to connect from (another 127.x.y.z acts as another client).
    std::string source;
    /// Raw bytes written before anything else (a PROXY protocol header).
    std::string preamble;
    /// Extra upgrade request headers (a client's own X-Forwarded-For).
    std::vector<std::pair<std::string, std::string>> headers;
    /// wss:// when set: the CA file the server certificate must chain to.
    std::string tls_ca_file;
    /// The name the certificate must carry (and the SNI and Host sent).
    std::string tls_host = "localhost";
};

class ws_client {
public:
    /// Connects and upgrades on `path`; throws on failure. `source`: the local
    /// address to connect from (another 127.x.y.z acts as another client).
    ws_client(std::uint16_t port, std::string const& path = "/", std::string const& source = {});
    ws_client(std::uint16_t port, connect_options const& options);
    /// Tries the upgrade and closes: 101 if it succeeded, the HTTP status of a
    /// refusal, or 0 if the connection closed before any response.
    static unsigned upgrade_status(std::uint16_t port, connect_options const& options);
    ~ws_client();
    ws_client(ws_client const&) = delete;
    ws_client& operator=(ws_client const&) = delete;

    /// Sends one binary message; encrypted once noise_handshake() succeeded.
    void send_binary(std::string const& bytes);
    /// Sends bytes as they are, even in a Noise session (forgeries, raw openings).
    void send_raw(std::string const& bytes);
    /// docs/protocol.md#s9-2 steps 1–3 as a v2 client: the magic and Noise message 1,
    /// then message 2 from the relay. From then on every message is encrypted.
    /// False if the relay did not answer with a valid message 2.
    bool noise_handshake(std::array<std::uint8_t, 32> const& relay_public_key);
    void send_text(std::string const& text);
    /// One binary message sent as WebSocket fragments of `fragment` bytes.
    void send_fragmented(std::string const& bytes, std::size_t fragment);
    void ping();
    /// Next binary message (decrypted in a Noise session), or nullopt on
    /// timeout or close.
    std::optional<std::string> receive(std::chrono::milliseconds timeout = 3000ms);
    /// Next message decoded; nullopt on timeout/close; fails the test if undecodable.
    std::optional<protocol::envelope> receive_envelope(std::chrono::milliseconds timeout = 3000ms);
    /// True if the server closes (EOF, reset or Close frame) within `timeout`,
    /// ignoring nothing: a message arriving first makes it false.
    bool closed_within(std::chrono::milliseconds timeout);
    /// True if nothing at all arrives within `timeout` and the connection is open.
    bool silent_for(std::chrono::milliseconds timeout);
    bool pong_received() const;
    /// The code of the Close frame the server sent, 0 if none (a dropped socket).
    unsigned close_code() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Handshake frame for `client_id`; options as in docs/protocol.md#s7-1.
struct handshake_options {
    std::optional<std::string> routing_token;
    std::optional<std::string> device_id;
    bool suppress_presence = false;
    /// §5 auth fields, all four or none (hex strings and the signing time).
    std::optional<std::string> identity_public_key, nonce, signature;
    std::optional<std::uint64_t> timestamp;
};
inline handshake_options with_token(std::string token)
{
    handshake_options o;
    o.routing_token = std::move(token);
    return o;
}
inline handshake_options with_device(std::string device)
{
    handshake_options o;
    o.device_id = std::move(device);
    return o;
}
inline handshake_options suppressed()
{
    handshake_options o;
    o.suppress_presence = true;
    return o;
}
std::string handshake_frame(std::string const& client_id, handshake_options const& o = {});
std::string update_frame(std::string const& recipient, std::vector<std::uint8_t> const& ciphertext,
                         std::string const& message_id);
std::string ack_frame(std::string const& message_id, protocol::ack_status status);
std::string frame_of(protocol::payload const& body, std::string const& message_id);

/// A random 64-hex-character id.
std::string random_id();
std::vector<std::uint8_t> random_bytes(std::size_t n);

/// Connects, handshakes and consumes the HandshakeAck (checked).
std::unique_ptr<ws_client> connect_as(std::uint16_t port, std::string const& client_id,
                                      handshake_options const& o = {});
/// The same over Noise NK with the relay key `relay_public_key`.
std::unique_ptr<ws_client> connect_noise_as(std::uint16_t port, std::array<std::uint8_t, 32> const& relay_public_key,
                                            std::string const& client_id, handshake_options const& o = {});

} // namespace relay::testing
