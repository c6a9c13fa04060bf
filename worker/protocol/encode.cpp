// encode_frame and the hot-path encoders. Key order is that of the wire tables
// in docs/protocol.md#s7 (serde writes struct fields in declaration order), with
// the payload "type" first; absent optional fields are omitted.

#include "worker/protocol/codec.hpp"
#include "worker/protocol/json_writer.hpp"
#include "worker/protocol/wire_names.hpp"

#include <variant>

namespace relay::protocol {

namespace {

using detail::json_writer;

// Bytes: room for the envelope keys, a UUID, a timestamp and a short payload, so most
// frames are written without growing the string.
constexpr std::size_t small_frame_reserve = 256;

void write_envelope_head(json_writer& w, std::uint8_t version, std::string_view message_id, std::uint64_t timestamp)
{
    w.begin_object();
    w.key("version");
    w.number(version);
    w.key("message_id");
    w.string(message_id);
    w.key("timestamp");
    w.number(timestamp);
    w.key("payload");
}

void write_optional(json_writer& w, std::string_view key, std::optional<std::string> const& v)
{
    if (!v)
        return;
    w.key(key);
    w.string(*v);
}

void write_strings(json_writer& w, std::vector<std::string> const& strings)
{
    w.begin_array();
    for (auto const& s : strings)
        w.string(s);
    w.end_array();
}

// Field writers, one per payload type; "type" is already written.

void write_fields(json_writer& w, handshake const& h)
{
    w.key("client_id");
    w.string(h.client_id);
    write_optional(w, "device_id", h.device_id);
    write_optional(w, "routing_token", h.routing_token);
    w.key("suppress_presence");
    w.boolean(h.suppress_presence);
    write_optional(w, "identity_public_key", h.identity_public_key);
    write_optional(w, "nonce", h.nonce);
    write_optional(w, "signature", h.signature);
    if (h.timestamp) {
        w.key("timestamp");
        w.number(*h.timestamp);
    }
}

void write_handshake_ack_fields(json_writer& w, std::uint32_t protocol_version, std::string_view version,
                                std::vector<std::string> const& features, std::string_view extra_feature)
{
    w.key("protocol_version");
    w.number(protocol_version);
    w.key("server_version");
    w.string(version);
    w.key("features");
    w.begin_array();
    for (auto const& f : features)
        w.string(f);
    if (!extra_feature.empty())
        w.string(extra_feature);
    w.end_array();
}

void write_fields(json_writer& w, handshake_ack const& a)
{
    write_handshake_ack_fields(w, a.protocol_version, a.server_version, a.features, {});
}

void write_update_fields(json_writer& w, std::string_view recipient_id, std::span<std::uint8_t const> ciphertext)
{
    w.key("recipient_id");
    w.string(recipient_id);
    w.key("ciphertext");
    w.byte_array(ciphertext);
}

void write_fields(json_writer& w, encrypted_update const& u) { write_update_fields(w, u.recipient_id, u.ciphertext); }

void write_ack_fields(json_writer& w, std::string_view message_id, ack_status status)
{
    w.key("message_id");
    w.string(message_id);
    w.key("status");
    w.string(to_string(status));
}

void write_fields(json_writer& w, acknowledgment const& a) { write_ack_fields(w, a.message_id, a.status); }

void write_fields(json_writer& w, account_revoked const& r)
{
    w.key("sender_id");
    w.string(r.sender_id);
    w.key("recipient_id");
    w.string(r.recipient_id);
    w.key("timestamp");
    w.number(r.timestamp);
    w.key("signature");
    w.byte_array(r.signature);
}

void write_fields(json_writer& w, device_sync_message const& m)
{
    w.key("identity_id");
    w.string(m.identity_id);
    w.key("target_device_id");
    w.string(m.target_device_id);
    w.key("sender_device_id");
    w.string(m.sender_device_id);
    w.key("encrypted_payload");
    w.byte_array(m.encrypted_payload);
    w.key("version");
    w.number(m.version);
}

void write_fields(json_writer& w, device_sync_ack const& a)
{
    w.key("message_id");
    w.string(a.message_id);
    w.key("synced_version");
    w.number(a.synced_version);
}

void write_fields(json_writer& w, recovery_proof_store const& s)
{
    w.key("key_hash");
    w.string(s.key_hash);
    w.key("proof_data");
    w.byte_array(s.proof_data);
}

void write_fields(json_writer& w, recovery_proof_query const& q)
{
    w.key("key_hashes");
    write_strings(w, q.key_hashes);
}

void write_fields(json_writer& w, recovery_proof_response const& r)
{
    w.key("proofs");
    w.begin_array();
    for (auto const& proof : r.proofs) {
        w.begin_object();
        w.key("key_hash");
        w.string(proof.key_hash);
        w.key("proof_data");
        w.byte_array(proof.proof_data);
        w.end_object();
    }
    w.end_array();
}

void write_fields(json_writer& w, purge_request const& r)
{
    w.key("include_device_sync");
    w.boolean(r.include_device_sync);
    w.key("include_recovery_proofs");
    w.boolean(r.include_recovery_proofs);
    write_optional(w, "recovery_key_hash", r.recovery_key_hash);
}

void write_fields(json_writer& w, purge_response const& r)
{
    w.key("blobs_deleted");
    w.number(r.blobs_deleted);
    w.key("device_sync_deleted");
    w.number(r.device_sync_deleted);
    w.key("recovery_proofs_deleted");
    w.number(r.recovery_proofs_deleted);
}

void write_fields(json_writer& w, forwarding_hints const& h)
{
    w.key("hints");
    w.begin_array();
    for (auto const& hint : h.hints) {
        w.begin_object();
        w.key("blob_id");
        w.string(hint.blob_id);
        w.key("relay_url");
        w.string(hint.relay_url);
        w.key("expires_at_secs");
        w.number(hint.expires_at_secs);
        w.end_object();
    }
    w.end_array();
}

void write_fields(json_writer&, unknown_payload const&) {}

// Capacity for a payload's byte arrays, the only part that can be large.
std::size_t byte_arrays_bound(payload const& p)
{
    auto bound = [](bytes const& b) { return detail::byte_array_bound(b.size()); };
    if (auto const* u = std::get_if<encrypted_update>(&p))
        return bound(u->ciphertext);
    if (auto const* m = std::get_if<device_sync_message>(&p))
        return bound(m->encrypted_payload);
    if (auto const* r = std::get_if<account_revoked>(&p))
        return bound(r->signature);
    if (auto const* s = std::get_if<recovery_proof_store>(&p))
        return bound(s->proof_data);
    if (auto const* r = std::get_if<recovery_proof_response>(&p)) {
        std::size_t n = 0;
        for (auto const& proof : r->proofs)
            n += bound(proof.proof_data) + 96;
        return n;
    }
    return 0;
}

} // namespace

std::string encode_frame(envelope const& e)
{
    auto frame = detail::begin_frame(small_frame_reserve + byte_arrays_bound(e.body));
    json_writer w(frame);
    write_envelope_head(w, e.version, e.message_id, e.timestamp);
    w.begin_object();
    w.key("type");
    w.string(type_name(e.body));
    std::visit([&w](auto const& body) { write_fields(w, body); }, e.body);
    w.end_object();
    w.end_object();
    detail::end_frame(frame);
    return frame;
}

std::string encode_ack(std::string_view envelope_id, std::uint64_t now, std::string_view acked_message_id,
                       ack_status status)
{
    auto frame = detail::begin_frame(small_frame_reserve + acked_message_id.size());
    json_writer w(frame);
    write_envelope_head(w, 1, envelope_id, now);
    w.begin_object();
    w.key("type");
    w.string(detail::wire_name<acknowledgment>);
    write_ack_fields(w, acked_message_id, status);
    w.end_object();
    w.end_object();
    detail::end_frame(frame);
    return frame;
}

std::string encode_delivery(std::string_view blob_id, std::uint64_t now, std::string_view recipient_id,
                            std::span<std::uint8_t const> ciphertext)
{
    auto frame =
        detail::begin_frame(small_frame_reserve + recipient_id.size() + detail::byte_array_bound(ciphertext.size()));
    json_writer w(frame);
    write_envelope_head(w, 1, blob_id, now);
    w.begin_object();
    w.key("type");
    w.string(detail::wire_name<encrypted_update>);
    write_update_fields(w, recipient_id, ciphertext);
    w.end_object();
    w.end_object();
    detail::end_frame(frame);
    return frame;
}

std::string encode_handshake_ack(std::string_view envelope_id, std::uint64_t now, bool noise)
{
    auto frame = detail::begin_frame(small_frame_reserve * 2);
    json_writer w(frame);
    write_envelope_head(w, 1, envelope_id, now);
    w.begin_object();
    w.key("type");
    w.string(detail::wire_name<handshake_ack>);
    write_handshake_ack_fields(w, 1, server_version, handshake_features(), noise ? noise_feature : std::string_view{});
    w.end_object();
    w.end_object();
    detail::end_frame(frame);
    return frame;
}

} // namespace relay::protocol
