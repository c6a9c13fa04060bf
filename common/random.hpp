#pragma once
// Randomness from the kernel CSPRNG (getrandom), used for blob ids, envelope
// ids and log session labels.

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace relay::random {

/// Fills the buffer with cryptographically secure random bytes; aborts on failure.
void fill(std::span<std::uint8_t> out);

/// A random 128-bit version-4 UUID, in binary form.
using uuid = std::array<std::uint8_t, 16>;
uuid new_uuid();
/// Lowercase hyphenated form (36 characters).
std::string to_string(uuid const& id);
/// Parses the 36-character hyphenated form (either case); false if malformed.
bool parse_uuid(std::string_view text, uuid& out);
/// A fresh UUID v4 in text form: new_uuid() then to_string().
std::string new_uuid_string();

/// An 8-character label for correlating log lines of one connection.
std::string session_label();

/// A random 64-bit value (hash seeds).
std::uint64_t u64();

} // namespace relay::random
