#pragma once
// The client side of Noise NK (docs/protocol.md#s9): used by the tests and by our
// integration-test client, never by the relay itself.

#include "noise/dh.hpp"
#include "noise/symmetric_state.hpp"
#include "noise/transport.hpp"
#include "noise/types.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace relay::noise {

class initiator final {
public:
    /// `responder_static` is the relay public key the client learned out of
    /// band (§9.4). The relay uses an empty prologue; a non-empty one is for
    /// the published test vectors, as is `ephemeral_private` (production
    /// leaves it empty and gets a fresh key from OpenSSL).
    explicit initiator(key const& responder_static, std::span<std::uint8_t const> prologue = {},
                       std::optional<key> ephemeral_private = std::nullopt);

    /// `-> e, es` plus the encrypted payload: 48 bytes for an empty payload.
    /// Empty on a call out of order, a payload above 65487 bytes, or an
    /// OpenSSL failure (then the handshake is dead).
    std::optional<std::vector<std::uint8_t>> write_message_1(std::span<std::uint8_t const> payload = {});
    /// `<- e, ee`; returns the decrypted payload (empty for the relay). Empty
    /// optional if the message is malformed or does not authenticate.
    std::optional<std::vector<std::uint8_t>> read_message_2(std::span<std::uint8_t const> message);
    /// After read_message_2: the session, sending with the first Split() key.
    std::optional<transport> split();

    /// h after the last message processed; equal on both sides after message 2.
    digest const& handshake_hash() const noexcept { return ss_.handshake_hash(); }

private:
    enum class step { write_1, read_2, split, done };

    symmetric_state ss_;
    key rs_;
    std::optional<key> fixed_e_;
    std::optional<dh_key> e_;
    step step_ = step::done;
};

} // namespace relay::noise
