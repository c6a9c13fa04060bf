#pragma once
// Internal: the fast path for the hottest message. Clients
// serialise an EncryptedUpdate with serde in one fixed shape,
//
//   {"version":1,"message_id":"…","timestamp":…,"payload":
//    {"type":"EncryptedUpdate","recipient_id":"…","ciphertext":[…]}}
//
// with no whitespace. Text of exactly that shape is decoded here without a
// JSON tree: literal keys compared in place, plain strings copied, integers
// read digit by digit, the ciphertext by the byte-array scanner. Anything else
// (another order, an extra key, whitespace, an escape or a non-ASCII byte in a
// string, an unusual number, an empty ciphertext) is left to the general
// decoder, which accepts or rejects it as before. On the text it accepts,
// this gives exactly the envelope the general decoder gives: the unit tests
// and the differential codec fuzzer compare the two.

#include "worker/protocol/messages.hpp"

#include <optional>
#include <string_view>

namespace relay::protocol::detail {

/// The envelope of `json` (the text after the frame prefix) if it has the
/// canonical EncryptedUpdate shape and is valid; otherwise nullopt, and the
/// general decoder decides.
std::optional<envelope> decode_canonical_update(std::string_view json);

} // namespace relay::protocol::detail
