#include "bench/loadgen/frames.hpp"

#include <chrono>
#include <random>
#include <vector>

#include "worker/protocol/codec.hpp"

namespace bench::loadgen {
namespace {

namespace protocol = relay::protocol;

// Placeholders the codec writes and we then find; none can occur elsewhere in
// the frames they are used in.
constexpr std::string_view id_placeholder = "11111111-1111-4111-8111-111111111111";
constexpr std::string_view acked_placeholder = "22222222-2222-4222-8222-222222222222";
constexpr std::string_view recipient_key = "\"recipient_id\":\"";
constexpr std::string_view ciphertext_key = "\"ciphertext\":[";
constexpr std::string_view client_key = "\"client_id\":\"";
/// Envelope timestamp of generated frames; the relay ignores it (§3.3).
constexpr std::uint64_t envelope_time = 1760000000;

void write_hex(std::string& s, std::size_t at, std::size_t digits, std::uint64_t value)
{
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < digits; ++i) {
        s[at + digits - 1 - i] = hex[value & 0xF];
        value >>= 4;
    }
}

std::string frame_of(protocol::payload body)
{
    protocol::envelope e;
    e.message_id = std::string(id_placeholder);
    e.timestamp = envelope_time;
    e.body = std::move(body);
    return protocol::encode_frame(e);
}

} // namespace

std::uint64_t now_ns()
{
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

std::string hex64_id(std::uint64_t salt, std::uint64_t n)
{
    std::string id(64, '0');
    // Three rounds of a 64-bit mix spread the salt over 48 characters.
    std::uint64_t x = salt;
    for (std::size_t part = 0; part < 3; ++part) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        write_hex(id, part * 16, 16, x);
    }
    write_hex(id, 48, 16, n);
    return id;
}

update_frame::update_frame(std::size_t ciphertext_size, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    protocol::encrypted_update u;
    u.recipient_id = std::string(64, '0');
    u.ciphertext.resize(ciphertext_size);
    for (auto& b : u.ciphertext)
        b = static_cast<std::uint8_t>(rng());
    stampable_ = ciphertext_size >= stamp_bytes;
    if (stampable_)
        for (std::size_t i = 0; i < stamp_bytes; ++i)
            u.ciphertext[i] = 100;
    frame_ = frame_of(std::move(u));
    id_at_ = frame_.find(id_placeholder);
    recipient_at_ = frame_.find(recipient_key) + recipient_key.size();
    stamp_at_ = frame_.find(ciphertext_key) + ciphertext_key.size();
}

void update_frame::set_message_id(std::uint32_t a, std::uint64_t b)
{
    write_hex(frame_, id_at_, 8, a);
    write_hex(frame_, id_at_ + 24, 12, b);
}

void update_frame::set_recipient(std::string_view hex64) { frame_.replace(recipient_at_, 64, hex64.substr(0, 64)); }

void update_frame::set_stamp(std::uint64_t ns)
{
    if (!stampable_)
        return;
    // "1d," per byte, most significant digit first.
    for (std::size_t i = 0; i < stamp_bytes; ++i) {
        frame_[stamp_at_ + (stamp_bytes - 1 - i) * 4 + 2] = static_cast<char>('0' + ns % 10);
        ns /= 10;
    }
}

handshake_frame::handshake_frame()
{
    protocol::handshake h;
    h.client_id = std::string(64, '0');
    frame_ = frame_of(std::move(h));
    id_at_ = frame_.find(client_key) + client_key.size();
}

void handshake_frame::set_client_id(std::string_view hex64) { frame_.replace(id_at_, 64, hex64.substr(0, 64)); }

receipt_frame::receipt_frame()
{
    frame_ = protocol::encode_ack(id_placeholder, envelope_time, acked_placeholder,
                                  protocol::ack_status::received_by_recipient);
    envelope_at_ = frame_.find(id_placeholder);
    acked_at_ = frame_.find(acked_placeholder);
}

bool receipt_frame::set(std::uint64_t envelope_seq, std::string_view blob_id)
{
    if (blob_id.size() != acked_placeholder.size())
        return false;
    write_hex(frame_, envelope_at_ + 24, 12, envelope_seq);
    frame_.replace(acked_at_, blob_id.size(), blob_id);
    return true;
}

char ack_status(std::string_view frame)
{
    constexpr std::string_view key = "\"status\":\"";
    auto const at = frame.find(key);
    if (at == std::string_view::npos || at + key.size() >= frame.size())
        return 0;
    return frame[at + key.size()];
}

bool is_update(std::string_view frame)
{
    // The payload type comes first in the payload (§3.2), within the first
    // ~150 bytes; searching only there keeps 15 KB frames cheap.
    return frame.substr(0, 160).find("\"type\":\"EncryptedUpdate\"") != std::string_view::npos;
}

bool is_handshake_ack(std::string_view frame)
{
    return frame.substr(0, 160).find("\"type\":\"HandshakeAck\"") != std::string_view::npos;
}

std::string_view envelope_id(std::string_view frame)
{
    constexpr std::string_view key = "\"message_id\":\"";
    auto const at = frame.find(key);
    if (at == std::string_view::npos)
        return {};
    auto const start = at + key.size();
    auto const end = frame.find('"', start);
    return end == std::string_view::npos ? std::string_view{} : frame.substr(start, end - start);
}

std::optional<std::uint64_t> stamp_of(std::string_view frame)
{
    auto const at = frame.find(ciphertext_key);
    if (at == std::string_view::npos)
        return std::nullopt;
    auto const start = at + ciphertext_key.size();
    if (frame.size() < start + update_frame::stamp_bytes * 4)
        return std::nullopt;
    std::uint64_t ns = 0;
    for (std::size_t i = 0; i < update_frame::stamp_bytes; ++i) {
        char const* d = frame.data() + start + i * 4;
        if (d[0] != '1' || d[1] != '0' || d[2] < '0' || d[2] > '9')
            return std::nullopt;
        ns = ns * 10 + static_cast<std::uint64_t>(d[2] - '0');
    }
    return ns;
}

} // namespace bench::loadgen
