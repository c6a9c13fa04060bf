#pragma once
// The typed messages of the client protocol (docs/protocol.md#s3-3 and §7).
//
// Plain value types with no behaviour: the codec (codec.hpp) turns frames into
// these and back, and the relay logic never sees JSON. Field names and types
// follow the wire tables; binary data is `bytes` (a JSON array of 0..255).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace relay::protocol {

/// Opaque binary data; on the wire a JSON array of integers 0..255 (docs/protocol.md#s1).
using bytes = std::vector<std::uint8_t>;

/// C→R, first message of a connection (§7.1). The four auth fields are §5.
struct handshake {
    std::string client_id{};
    std::optional<std::string> device_id{};
    std::optional<std::string> routing_token{};
    bool suppress_presence = false;
    std::optional<std::string> identity_public_key{};
    std::optional<std::string> nonce{};
    std::optional<std::string> signature{};
    std::optional<std::uint64_t> timestamp{};

    bool operator==(handshake const&) const = default;
};

/// R→C answer to a valid handshake (§7.2).
struct handshake_ack {
    std::uint32_t protocol_version = 1;
    std::string server_version{};
    std::vector<std::string> features{};

    bool operator==(handshake_ack const&) const = default;
};

/// C→R store request and R→C delivery (§7.3). An input `sender_id` is
/// accepted and dropped; it is never written.
struct encrypted_update {
    std::string recipient_id{};
    bytes ciphertext{};

    bool operator==(encrypted_update const&) const = default;
};

/// Wire spellings "Stored", "Delivered", "ReceivedByRecipient", "Failed" (case-sensitive).
enum class ack_status { stored, delivered, received_by_recipient, failed };

/// Both directions (§7.4).
struct acknowledgment {
    std::string message_id{};
    ack_status status = ack_status::stored;

    bool operator==(acknowledgment const&) const = default;
};

/// C→R, stored for a contact (§7.5).
struct account_revoked {
    std::string sender_id{};
    std::string recipient_id{};
    std::uint64_t timestamp = 0;
    bytes signature{};

    bool operator==(account_revoked const&) const = default;
};

/// C→R store and R→C delivery between devices of one identity (§7.6).
struct device_sync_message {
    std::string identity_id{};
    std::string target_device_id{};
    std::string sender_device_id{};
    bytes encrypted_payload{};
    std::uint64_t version = 0;

    bool operator==(device_sync_message const&) const = default;
};

/// C→R (§7.7).
struct device_sync_ack {
    std::string message_id{};
    std::uint64_t synced_version = 0;

    bool operator==(device_sync_ack const&) const = default;
};

/// C→R (§7.8).
struct recovery_proof_store {
    std::string key_hash{};
    bytes proof_data{};

    bool operator==(recovery_proof_store const&) const = default;
};

/// C→R (§7.9).
struct recovery_proof_query {
    std::vector<std::string> key_hashes{};

    bool operator==(recovery_proof_query const&) const = default;
};

/// One entry of a recovery_proof_response.
struct recovery_proof {
    std::string key_hash{};
    bytes proof_data{};

    bool operator==(recovery_proof const&) const = default;
};

/// R→C (§7.9).
struct recovery_proof_response {
    std::vector<recovery_proof> proofs{};

    bool operator==(recovery_proof_response const&) const = default;
};

/// C→R (§7.10); `{}` is a valid request.
struct purge_request {
    bool include_device_sync = false;
    bool include_recovery_proofs = false;
    std::optional<std::string> recovery_key_hash{};

    bool operator==(purge_request const&) const = default;
};

/// R→C (§7.10).
struct purge_response {
    std::uint64_t blobs_deleted = 0;
    std::uint64_t device_sync_deleted = 0;
    std::uint64_t recovery_proofs_deleted = 0;

    bool operator==(purge_response const&) const = default;
};

/// One entry of forwarding_hints.
struct forwarding_hint {
    std::string blob_id{};
    std::string relay_url{};
    std::uint64_t expires_at_secs = 0;

    bool operator==(forwarding_hint const&) const = default;
};

/// R→C (§7.11).
struct forwarding_hints {
    std::vector<forwarding_hint> hints{};

    bool operator==(forwarding_hints const&) const = default;
};

/// A payload whose "type" the relay does not know: decodes fine and is ignored
/// (§3.2, §7.12). Only the type string is kept; the other fields are dropped.
struct unknown_payload {
    std::string type{};

    bool operator==(unknown_payload const&) const = default;
};

/// Every payload the codec knows, discriminated on the wire by "type".
using payload = std::variant<handshake, handshake_ack, encrypted_update, acknowledgment, account_revoked,
                             device_sync_message, device_sync_ack, recovery_proof_store, recovery_proof_query,
                             recovery_proof_response, purge_request, purge_response, forwarding_hints, unknown_payload>;

/// The outer object of every frame (§3.3).
struct envelope {
    std::uint8_t version = 1;
    std::string message_id{};
    std::uint64_t timestamp = 0;
    payload body{};

    bool operator==(envelope const&) const = default;
};

} // namespace relay::protocol
