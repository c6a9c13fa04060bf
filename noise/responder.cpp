#include "noise/responder.hpp"

#include "noise/nk_pattern.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace relay::noise {

responder::responder(dh_key static_key, std::span<std::uint8_t const> prologue, std::optional<key> ephemeral_private)
    : ss_(protocol_name), s_(std::move(static_key)), fixed_e_(ephemeral_private)
{
    if (ephemeral_private)
        OPENSSL_cleanse(ephemeral_private->data(), ephemeral_private->size());
    if (nk::initialize(ss_, prologue, s_.public_key()))
        step_ = step::read_1;
}

std::optional<std::vector<std::uint8_t>> responder::read_message_1(std::span<std::uint8_t const> message)
{
    if (step_ != step::read_1)
        return std::nullopt;
    step_ = step::done; // any failure below ends the handshake
    if (message.size() < handshake_message_size || message.size() > max_message_size)
        return std::nullopt;
    std::copy_n(message.begin(), re_.size(), re_.begin());
    std::vector<std::uint8_t> payload;
    if (!ss_.mix_hash(re_) || !nk::mix_dh(ss_, s_, re_) || !ss_.decrypt_and_hash(message.subspan(dh_size), payload))
        return std::nullopt;
    step_ = step::write_2;
    return payload;
}

std::optional<std::vector<std::uint8_t>> responder::write_message_2(std::span<std::uint8_t const> payload)
{
    if (step_ != step::write_2 || payload.size() > nk::max_handshake_payload)
        return std::nullopt;
    step_ = step::done;
    // Generated only now, so a client that fails message 1 costs no key generation.
    auto e = nk::make_ephemeral(fixed_e_);
    if (fixed_e_)
        OPENSSL_cleanse(fixed_e_->data(), fixed_e_->size());
    if (!e)
        return std::nullopt;
    std::vector<std::uint8_t> message(e->public_key().begin(), e->public_key().end());
    message.reserve(handshake_message_size + payload.size());
    if (!ss_.mix_hash(e->public_key()) || !nk::mix_dh(ss_, *e, re_) || !ss_.encrypt_and_hash(payload, message))
        return std::nullopt;
    step_ = step::split;
    return message;
}

std::optional<transport> responder::split()
{
    if (step_ != step::split)
        return std::nullopt;
    step_ = step::done;
    cipher_state receive, send;
    if (!ss_.split(receive, send))
        return std::nullopt;
    return transport{std::move(send), std::move(receive)};
}

} // namespace relay::noise
