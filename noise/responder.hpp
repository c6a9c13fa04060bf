#pragma once
// The relay side of Noise NK (docs/protocol.md#s9-2): read message 1, write
// message 2, split. One object per connection; it dies after split().

#include "noise/dh.hpp"
#include "noise/symmetric_state.hpp"
#include "noise/transport.hpp"
#include "noise/types.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace relay::noise {

class responder final {
public:
    /// `static_key` is the relay key pair (a cheap reference-counted copy).
    /// The relay uses an empty prologue; a non-empty one and
    /// `ephemeral_private` exist for the published test vectors (production
    /// leaves it empty and gets a fresh key from OpenSSL).
    explicit responder(dh_key static_key, std::span<std::uint8_t const> prologue = {},
                       std::optional<key> ephemeral_private = std::nullopt);

    /// `-> e, es`: at least 48 bytes. Returns the decrypted payload, which
    /// the relay ignores (clients send none). Empty optional if the message is
    /// short, over 65535 bytes, encrypted to another relay key, or corrupt;
    /// the handshake is then dead.
    std::optional<std::vector<std::uint8_t>> read_message_1(std::span<std::uint8_t const> message);
    /// `<- e, ee` plus the encrypted payload: 48 bytes for the relay's empty
    /// payload. Empty only on a call out of order or an OpenSSL failure.
    std::optional<std::vector<std::uint8_t>> write_message_2(std::span<std::uint8_t const> payload = {});
    /// After write_message_2: the session, sending with the second Split() key.
    std::optional<transport> split();

    /// h after the last message processed; equal on both sides after message 2.
    digest const& handshake_hash() const noexcept { return ss_.handshake_hash(); }

private:
    enum class step { read_1, write_2, split, done };

    symmetric_state ss_;
    dh_key s_;
    std::optional<key> fixed_e_;
    key re_{};
    step step_ = step::done;
};

} // namespace relay::noise
