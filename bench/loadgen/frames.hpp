#pragma once
// The frames the generator sends, encoded once by the relay's codec and then
// patched in place (ids, recipient, time stamp), so a 4 KiB update does not
// cost the generator a JSON encoding per message; and the few facts it reads
// back from the server's frames, found by substring rather than parsed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bench::loadgen {

/// Nanoseconds of the steady clock: send stamps and latencies.
std::uint64_t now_ns();

/// A 64-hex-character id (client id, recipient id): 48 characters from the
/// run's salt, so runs never share ids, then `n` as 16 hex digits.
std::string hex64_id(std::uint64_t salt, std::uint64_t n);

/// An EncryptedUpdate frame of `ciphertext_size` random bytes whose envelope
/// id, recipient and (optionally) send stamp are rewritten before each send.
class update_frame {
public:
    /// The stamp needs the first stamp_bytes bytes of the ciphertext.
    static constexpr std::size_t stamp_bytes = 20;

    update_frame(std::size_t ciphertext_size, std::uint64_t seed);

    /// Envelope message_id: a UUID whose digits hold `a` (8 hex) and `b` (12 hex).
    void set_message_id(std::uint32_t a, std::uint64_t b);
    void set_recipient(std::string_view hex64);
    /// Writes `ns` into the first stamp_bytes ciphertext bytes, one decimal
    /// digit per byte as 100..109, so every byte prints as 3 characters and the
    /// frame length never changes.
    void set_stamp(std::uint64_t ns);
    std::string const& bytes() const { return frame_; }

private:
    std::string frame_;
    std::size_t id_at_ = 0;
    std::size_t recipient_at_ = 0;
    std::size_t stamp_at_ = 0;
    bool stampable_ = false;
};

/// Handshake frames with a patched client_id.
class handshake_frame {
public:
    handshake_frame();
    void set_client_id(std::string_view hex64);
    std::string const& bytes() const { return frame_; }

private:
    std::string frame_;
    std::size_t id_at_ = 0;
};

/// ReceivedByRecipient acknowledgments of a delivered blob id.
class receipt_frame {
public:
    receipt_frame();
    /// False if `blob_id` is not 36 characters (then nothing is changed).
    bool set(std::uint64_t envelope_seq, std::string_view blob_id);
    std::string const& bytes() const { return frame_; }

private:
    std::string frame_;
    std::size_t envelope_at_ = 0;
    std::size_t acked_at_ = 0;
};

/// First letter of an Acknowledgment's status ('S'tored, 'D'elivered,
/// 'R'eceivedByRecipient, 'F'ailed), or 0 for any other frame.
char ack_status(std::string_view frame);
bool is_update(std::string_view frame);
bool is_handshake_ack(std::string_view frame);
/// The envelope message_id (a delivered blob's id).
std::string_view envelope_id(std::string_view frame);
/// The stamp written by update_frame::set_stamp, read from a delivered frame.
std::optional<std::uint64_t> stamp_of(std::string_view frame);

} // namespace bench::loadgen
