#pragma once
// The relay's static Noise key (docs/protocol.md#s9-3), in this priority:
//   1. RELAY_NOISE_STATIC_KEY: base64url without padding of private(32) || public(32);
//      undecodable or the wrong length is ignored (reported as a warning);
//   2. <data dir>/relay_noise_key.bin: exactly those 64 raw bytes;
//   3. a fresh X25519 pair, written to that file with mode 0600.
// The public half is used as stored, never recomputed from the private half.
//
// Nothing here logs: problems come back as text for the caller to log, and
// that text never contains key material.

#include "noise/types.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::noise {

/// The key file's name inside the data directory (docs/protocol.md#s12-2).
inline constexpr std::string_view key_file_name = "relay_noise_key.bin";
/// The environment variable that overrides the file.
inline constexpr char const static_key_env[] = "RELAY_NOISE_STATIC_KEY";
/// Bytes of a stored pair: private key then public key.
inline constexpr std::size_t stored_pair_size = 2 * dh_size;

enum class key_source {
    environment, ///< RELAY_NOISE_STATIC_KEY
    file,        ///< an existing relay_noise_key.bin
    generated,   ///< a new pair, now saved in relay_noise_key.bin
};

struct static_key_result {
    std::optional<key_pair> keys; ///< empty exactly when `error` is set
    key_source source = key_source::generated;
    std::vector<std::string> warnings; ///< log at warning level (e.g. an ignored variable)
    std::string error;                 ///< why no key could be had; the relay cannot start
};

/// Loads or creates the key. `env_value` is the variable's value if it is set
/// (an empty value counts as unset); `data_dir` must exist.
static_key_result load_static_key(std::optional<std::string_view> env_value, std::filesystem::path const& data_dir);

/// Decodes the variable's format; empty if it is not base64url of 64 bytes.
std::optional<key_pair> parse_key_pair(std::string_view base64url);

/// Overwrites both halves, for once the pair has been imported into a dh_key.
void wipe(key_pair& pair) noexcept;

} // namespace relay::noise
