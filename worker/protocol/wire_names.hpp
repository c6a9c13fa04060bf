#pragma once
// Internal: the wire "type" of each payload struct, shared by the decoder's
// dispatch, the encoder and type_name() so the spellings live in one place.

#include "worker/protocol/messages.hpp"

#include <string_view>

namespace relay::protocol::detail {

template <class T>
inline constexpr std::string_view wire_name = {};

template <>
inline constexpr std::string_view wire_name<handshake> = "Handshake";
template <>
inline constexpr std::string_view wire_name<handshake_ack> = "HandshakeAck";
template <>
inline constexpr std::string_view wire_name<encrypted_update> = "EncryptedUpdate";
template <>
inline constexpr std::string_view wire_name<acknowledgment> = "Acknowledgment";
template <>
inline constexpr std::string_view wire_name<account_revoked> = "AccountRevoked";
template <>
inline constexpr std::string_view wire_name<device_sync_message> = "DeviceSyncMessage";
template <>
inline constexpr std::string_view wire_name<device_sync_ack> = "DeviceSyncAck";
template <>
inline constexpr std::string_view wire_name<recovery_proof_store> = "RecoveryProofStore";
template <>
inline constexpr std::string_view wire_name<recovery_proof_query> = "RecoveryProofQuery";
template <>
inline constexpr std::string_view wire_name<recovery_proof_response> = "RecoveryProofResponse";
template <>
inline constexpr std::string_view wire_name<purge_request> = "PurgeRequest";
template <>
inline constexpr std::string_view wire_name<purge_response> = "PurgeResponse";
template <>
inline constexpr std::string_view wire_name<forwarding_hints> = "ForwardingHints";

} // namespace relay::protocol::detail
