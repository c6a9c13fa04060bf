#pragma once
// Frames in, typed envelopes out, and back (docs/protocol.md#s3).
//
// A frame is a 4-byte big-endian length followed by the envelope as compact
// JSON. Decoding is strict in the ways the Rust relay (serde_json) is strict:
// a missing required key, a duplicated key, a wrong JSON type, a negative,
// fractional or out-of-range integer make the whole frame undecodable. Bad
// input is returned as an error value; nothing here throws except
// std::bad_alloc.

#include "worker/protocol/messages.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace relay::protocol {

/// Bytes of the big-endian length in front of the JSON text of every frame.
inline constexpr std::size_t frame_prefix_size = 4;

/// Nesting limit for incoming JSON. Our deepest message (RecoveryProofResponse)
/// needs 4 levels; 32 leaves room for nested unknown keys and bounds parser work.
inline constexpr std::size_t max_json_depth = 32;

/// HandshakeAck `server_version`: the Rust relay version we are wire-compatible
/// with (docs/protocol.md#s7-2), not our own build version.
inline constexpr std::string_view server_version = "1.1.0";

/// Appended to the HandshakeAck features when the session uses Noise (§9).
inline constexpr std::string_view noise_feature = "noise_nk";

/// Why a frame could not be decoded. Zero is never used, so an error_code built
/// from these is always a failure.
enum class decode_error {
    too_short = 1, ///< fewer than frame_prefix_size bytes
    bad_json,      ///< not valid JSON / UTF-8, or trailing bytes after the JSON
    not_an_object, ///< the JSON document is not an object
    missing_field, ///< a required key is absent
    wrong_type,    ///< a value has the wrong JSON type (including 1.0 for an integer)
    duplicate_key, ///< some object in the message repeats a key
    out_of_range,  ///< an integer is negative or too large for its field
    bad_enum,      ///< an unknown ack status string
    too_deep,      ///< nesting beyond max_json_depth
};

/// The "relay.protocol" error category of decode_error.
boost::system::error_category const& protocol_category() noexcept;
/// Lets a decode_error be used wherever a boost::system::error_code is expected.
boost::system::error_code make_error_code(decode_error e) noexcept;

/// Parses one frame. The prefix value is ignored (never trusted for allocation);
/// everything from offset 4 to the end must be exactly one JSON envelope.
boost::system::result<envelope> decode_frame(std::string_view frame);

/// The frame of an envelope: exact prefix, compact JSON, keys in docs/protocol.md#s7
/// table order with the payload "type" first; absent optional fields are omitted.
std::string encode_frame(envelope const& e);

/// The wire "type" of a payload ("Handshake", "EncryptedUpdate", ...); for an
/// unknown_payload, its own type string.
std::string_view type_name(payload const& p);

/// The wire spelling of an ack status ("Stored", ...).
char const* to_string(ack_status s) noexcept;

/// Features every HandshakeAck advertises, in wire order: docs/protocol.md#s7-2 plus
/// `live_push` (§16 D-5). noise_feature follows them for Noise sessions.
std::vector<std::string> const& handshake_features();

// Hot-path encoders. Each returns a whole frame (prefix included) and writes
// the same bytes encode_frame would for the equivalent envelope, without
// building one.

/// An Acknowledgment of `acked_message_id`, in an envelope with id `envelope_id`.
std::string encode_ack(std::string_view envelope_id, std::uint64_t now, std::string_view acked_message_id,
                       ack_status status);

/// The R→C EncryptedUpdate delivering a blob (§7.3): envelope id = blob id, no sender_id.
std::string encode_delivery(std::string_view blob_id, std::uint64_t now, std::string_view recipient_id,
                            std::span<std::uint8_t const> ciphertext);

/// The HandshakeAck (§7.2): protocol 1, server_version, handshake_features()
/// followed by noise_feature when `noise`.
std::string encode_handshake_ack(std::string_view envelope_id, std::uint64_t now, bool noise);

} // namespace relay::protocol

template <>
struct boost::system::is_error_code_enum<relay::protocol::decode_error> : std::true_type {
};
