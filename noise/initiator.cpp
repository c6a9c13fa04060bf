#include "noise/initiator.hpp"

#include "noise/nk_pattern.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace relay::noise {

initiator::initiator(key const& responder_static, std::span<std::uint8_t const> prologue,
                     std::optional<key> ephemeral_private)
    : ss_(protocol_name), rs_(responder_static), fixed_e_(ephemeral_private)
{
    if (ephemeral_private)
        OPENSSL_cleanse(ephemeral_private->data(), ephemeral_private->size());
    if (nk::initialize(ss_, prologue, rs_))
        step_ = step::write_1;
}

std::optional<std::vector<std::uint8_t>> initiator::write_message_1(std::span<std::uint8_t const> payload)
{
    if (step_ != step::write_1 || payload.size() > nk::max_handshake_payload)
        return std::nullopt;
    step_ = step::done; // any failure below ends the handshake
    e_ = nk::make_ephemeral(fixed_e_);
    if (fixed_e_)
        OPENSSL_cleanse(fixed_e_->data(), fixed_e_->size());
    if (!e_)
        return std::nullopt;
    std::vector<std::uint8_t> message(e_->public_key().begin(), e_->public_key().end());
    message.reserve(handshake_message_size + payload.size());
    if (!ss_.mix_hash(e_->public_key()) || !nk::mix_dh(ss_, *e_, rs_) || !ss_.encrypt_and_hash(payload, message))
        return std::nullopt;
    step_ = step::read_2;
    return message;
}

std::optional<std::vector<std::uint8_t>> initiator::read_message_2(std::span<std::uint8_t const> message)
{
    if (step_ != step::read_2)
        return std::nullopt;
    step_ = step::done;
    if (message.size() < handshake_message_size || message.size() > max_message_size)
        return std::nullopt;
    key re{};
    std::copy_n(message.begin(), re.size(), re.begin());
    std::vector<std::uint8_t> payload;
    if (!ss_.mix_hash(re) || !nk::mix_dh(ss_, *e_, re) || !ss_.decrypt_and_hash(message.subspan(dh_size), payload))
        return std::nullopt;
    step_ = step::split;
    return payload;
}

std::optional<transport> initiator::split()
{
    if (step_ != step::split)
        return std::nullopt;
    step_ = step::done;
    e_.reset(); // the ephemeral key is no longer needed: forward secrecy
    cipher_state send, receive;
    if (!ss_.split(send, receive))
        return std::nullopt;
    return transport{std::move(send), std::move(receive)};
}

} // namespace relay::noise
