// decode_frame: frame -> JSON tree (strict_json) -> typed envelope.
//
// The rules mirror what serde_json's derived Deserialize does for the Rust
// relay's structs (docs/protocol.md#s3-2): unknown keys are ignored, required keys
// must be present with the right JSON type, Option<T> fields may be absent or
// null, #[serde(default)] booleans may be absent but not null, and integers
// must be non-negative JSON integers that fit the field.

#include "worker/protocol/canonical_update.hpp"
#include "worker/protocol/codec.hpp"
#include "worker/protocol/strict_json.hpp"
#include "worker/protocol/wire_names.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <concepts>
#include <limits>
#include <type_traits>
#include <utility>

namespace relay::protocol {

namespace {

namespace json = boost::json;

/// Reads the fields of one JSON object, remembering the first failure.
///
/// Readers return a default value once something failed, so a decode function
/// reads every field straight through and checks ok() once at the end; the
/// error reported is the first one in field order.
class field_reader {
public:
    field_reader(json::object const& object, detail::strict_document& document, decode_error& error) noexcept
        : object_(object), document_(document), error_(error)
    {
    }

    bool ok() const noexcept { return error_ == decode_error{}; }

    std::string string(std::string_view key)
    {
        auto const* v = find(key);
        if (!v)
            return {};
        return as_string(*v);
    }

    /// Option<String>: absent or null is nullopt.
    std::optional<std::string> optional_string(std::string_view key)
    {
        auto const* v = find_optional(key);
        if (!v)
            return std::nullopt;
        return as_string(*v);
    }

    /// #[serde(default)] bool: absent is false; null is a type error.
    bool flag(std::string_view key)
    {
        auto const* v = object_.if_contains(key);
        if (!v || !ok())
            return false;
        if (auto const* b = v->if_bool())
            return *b;
        fail(decode_error::wrong_type);
        return false;
    }

    template <std::unsigned_integral Int>
    Int integer(std::string_view key)
    {
        auto const* v = find(key);
        if (!v)
            return 0;
        return as_integer<Int>(*v);
    }

    std::optional<std::uint64_t> optional_u64(std::string_view key)
    {
        auto const* v = find_optional(key);
        if (!v)
            return std::nullopt;
        return as_integer<std::uint64_t>(*v);
    }

    /// An ack status string, matched case-sensitively.
    ack_status status(std::string_view key)
    {
        auto const text = string(key);
        if (!ok())
            return {};
        for (auto s :
             {ack_status::stored, ack_status::delivered, ack_status::received_by_recipient, ack_status::failed})
            if (text == to_string(s))
                return s;
        fail(decode_error::bad_enum);
        return {};
    }

    json::object const* object(std::string_view key)
    {
        auto const* v = find(key);
        if (!v)
            return nullptr;
        auto const* o = v->if_object();
        if (!o)
            fail(decode_error::wrong_type);
        return o;
    }

    bytes byte_array(std::string_view key)
    {
        auto const* v = find(key);
        if (!v)
            return {};
        // The usual case: the parser already collected the bytes (strict_json.hpp).
        if (auto* collected = document_.byte_array(*v))
            return std::move(*collected);
        auto const* array = v->if_array();
        if (!array) {
            fail(decode_error::wrong_type);
            return {};
        }
        // Not collected, so the array is empty or holds a non-byte; find the
        // first one to report the right error.
        for (auto const& element : *array) {
            if (auto const* i = element.if_int64(); i && *i >= 0 && *i <= 255)
                continue;
            fail(element.is_int64() || is_number_uint64(element) ? decode_error::out_of_range
                                                                 : decode_error::wrong_type);
            return {};
        }
        return {};
    }

    std::vector<std::string> string_array(std::string_view key)
    {
        std::vector<std::string> out;
        auto const* array = find_array(key);
        if (!array)
            return out;
        out.reserve(array->size());
        for (auto const& element : *array) {
            out.push_back(as_string(element));
            if (!ok())
                return {};
        }
        return out;
    }

    /// An array of objects, each read by `read_one(field_reader&)`.
    template <class ReadOne, class T = std::invoke_result_t<ReadOne, field_reader&>>
    std::vector<T> object_array(std::string_view key, ReadOne read_one)
    {
        std::vector<T> out;
        auto const* array = find_array(key);
        if (!array)
            return out;
        out.reserve(array->size());
        for (auto const& element : *array) {
            auto const* object = element.if_object();
            if (!object) {
                fail(decode_error::wrong_type);
                return {};
            }
            field_reader nested(*object, document_, error_);
            out.push_back(read_one(nested));
            if (!ok())
                return {};
        }
        return out;
    }

private:
    void fail(decode_error e) noexcept
    {
        if (ok())
            error_ = e;
    }

    json::value const* find(std::string_view key)
    {
        if (!ok())
            return nullptr;
        auto const* v = object_.if_contains(key);
        if (!v)
            fail(decode_error::missing_field);
        return v;
    }

    json::value const* find_optional(std::string_view key)
    {
        if (!ok())
            return nullptr;
        auto const* v = object_.if_contains(key);
        return v && !v->is_null() ? v : nullptr;
    }

    json::array const* find_array(std::string_view key)
    {
        auto const* v = find(key);
        if (!v)
            return nullptr;
        auto const* array = v->if_array();
        if (!array)
            fail(decode_error::wrong_type);
        return array;
    }

    // A uint64 from the text, not a reference to a collected byte array.
    bool is_number_uint64(json::value const& v) const noexcept { return v.is_uint64() && !document_.is_byte_array(v); }

    std::string as_string(json::value const& v)
    {
        if (auto const* s = v.if_string())
            return std::string(s->data(), s->size());
        fail(decode_error::wrong_type);
        return {};
    }

    // Doubles (1.0, 1e3, -0, anything beyond u64) are a type error, as they are
    // for serde: the parser already told integers and floats apart by spelling.
    template <std::unsigned_integral Int>
    Int as_integer(json::value const& v)
    {
        constexpr auto max = std::numeric_limits<Int>::max();
        if (auto const* i = v.if_int64()) {
            if (*i >= 0 && static_cast<std::uint64_t>(*i) <= max)
                return static_cast<Int>(*i);
            fail(decode_error::out_of_range);
            return 0;
        }
        if (auto const* u = is_number_uint64(v) ? v.if_uint64() : nullptr) {
            if (*u <= max)
                return static_cast<Int>(*u);
            fail(decode_error::out_of_range);
            return 0;
        }
        fail(decode_error::wrong_type);
        return 0;
    }

    json::object const& object_;
    detail::strict_document& document_;
    decode_error& error_;
};

// One reader per payload type, fields in wire-table order (docs/protocol.md#s7).
template <class T>
T read(field_reader& f);

template <>
handshake read(field_reader& f)
{
    handshake h;
    h.client_id = f.string("client_id");
    h.device_id = f.optional_string("device_id");
    h.routing_token = f.optional_string("routing_token");
    h.suppress_presence = f.flag("suppress_presence");
    h.identity_public_key = f.optional_string("identity_public_key");
    h.nonce = f.optional_string("nonce");
    h.signature = f.optional_string("signature");
    h.timestamp = f.optional_u64("timestamp");
    return h;
}

template <>
handshake_ack read(field_reader& f)
{
    handshake_ack a;
    a.protocol_version = f.integer<std::uint32_t>("protocol_version");
    a.server_version = f.string("server_version");
    a.features = f.string_array("features");
    return a;
}

template <>
encrypted_update read(field_reader& f)
{
    // "sender_id" (older clients) is deliberately not read, whatever its type.
    encrypted_update u;
    u.recipient_id = f.string("recipient_id");
    u.ciphertext = f.byte_array("ciphertext");
    return u;
}

template <>
acknowledgment read(field_reader& f)
{
    acknowledgment a;
    a.message_id = f.string("message_id");
    a.status = f.status("status");
    return a;
}

template <>
account_revoked read(field_reader& f)
{
    account_revoked r;
    r.sender_id = f.string("sender_id");
    r.recipient_id = f.string("recipient_id");
    r.timestamp = f.integer<std::uint64_t>("timestamp");
    r.signature = f.byte_array("signature");
    return r;
}

template <>
device_sync_message read(field_reader& f)
{
    device_sync_message m;
    m.identity_id = f.string("identity_id");
    m.target_device_id = f.string("target_device_id");
    m.sender_device_id = f.string("sender_device_id");
    m.encrypted_payload = f.byte_array("encrypted_payload");
    m.version = f.integer<std::uint64_t>("version");
    return m;
}

template <>
device_sync_ack read(field_reader& f)
{
    device_sync_ack a;
    a.message_id = f.string("message_id");
    a.synced_version = f.integer<std::uint64_t>("synced_version");
    return a;
}

template <>
recovery_proof_store read(field_reader& f)
{
    recovery_proof_store s;
    s.key_hash = f.string("key_hash");
    s.proof_data = f.byte_array("proof_data");
    return s;
}

template <>
recovery_proof_query read(field_reader& f)
{
    return {.key_hashes = f.string_array("key_hashes")};
}

template <>
recovery_proof_response read(field_reader& f)
{
    return {.proofs = f.object_array("proofs", [](field_reader& entry) {
        recovery_proof p;
        p.key_hash = entry.string("key_hash");
        p.proof_data = entry.byte_array("proof_data");
        return p;
    })};
}

template <>
purge_request read(field_reader& f)
{
    purge_request r;
    r.include_device_sync = f.flag("include_device_sync");
    r.include_recovery_proofs = f.flag("include_recovery_proofs");
    r.recovery_key_hash = f.optional_string("recovery_key_hash");
    return r;
}

template <>
purge_response read(field_reader& f)
{
    purge_response r;
    r.blobs_deleted = f.integer<std::uint64_t>("blobs_deleted");
    r.device_sync_deleted = f.integer<std::uint64_t>("device_sync_deleted");
    r.recovery_proofs_deleted = f.integer<std::uint64_t>("recovery_proofs_deleted");
    return r;
}

template <>
forwarding_hints read(field_reader& f)
{
    return {.hints = f.object_array("hints", [](field_reader& entry) {
        forwarding_hint h;
        h.blob_id = entry.string("blob_id");
        h.relay_url = entry.string("relay_url");
        h.expires_at_secs = entry.integer<std::uint64_t>("expires_at_secs");
        return h;
    })};
}

template <class T>
payload read_as(field_reader& f)
{
    return read<T>(f);
}

using payload_reader = payload (*)(field_reader&);

constexpr std::array<std::pair<std::string_view, payload_reader>, 13> payload_readers{{
    {detail::wire_name<handshake>, &read_as<handshake>},
    {detail::wire_name<handshake_ack>, &read_as<handshake_ack>},
    {detail::wire_name<encrypted_update>, &read_as<encrypted_update>},
    {detail::wire_name<acknowledgment>, &read_as<acknowledgment>},
    {detail::wire_name<account_revoked>, &read_as<account_revoked>},
    {detail::wire_name<device_sync_message>, &read_as<device_sync_message>},
    {detail::wire_name<device_sync_ack>, &read_as<device_sync_ack>},
    {detail::wire_name<recovery_proof_store>, &read_as<recovery_proof_store>},
    {detail::wire_name<recovery_proof_query>, &read_as<recovery_proof_query>},
    {detail::wire_name<recovery_proof_response>, &read_as<recovery_proof_response>},
    {detail::wire_name<purge_request>, &read_as<purge_request>},
    {detail::wire_name<purge_response>, &read_as<purge_response>},
    {detail::wire_name<forwarding_hints>, &read_as<forwarding_hints>},
}};

payload read_payload(field_reader& f)
{
    auto type = f.string("type");
    if (!f.ok())
        return {};
    for (auto const& [name, reader] : payload_readers)
        if (type == name)
            return reader(f);
    return unknown_payload{std::move(type)};
}

} // namespace

boost::system::result<envelope> decode_frame(std::string_view frame)
{
    if (frame.size() < frame_prefix_size)
        return decode_error::too_short;
    if (auto update = detail::decode_canonical_update(frame.substr(frame_prefix_size)))
        return std::move(*update);

    // The whole tree is freed at once when decoding ends; small envelopes never
    // touch the heap for it.
    unsigned char arena[4096];
    json::monotonic_resource resource(arena, sizeof arena);
    auto document = detail::parse_strict(frame.substr(frame_prefix_size), &resource);
    if (!document)
        return document.error();
    auto const* object = document->root.if_object();
    if (!object)
        return decode_error::not_an_object;

    decode_error error{};
    field_reader f(*object, *document, error);
    envelope e;
    e.version = f.integer<std::uint8_t>("version");
    e.message_id = f.string("message_id");
    e.timestamp = f.integer<std::uint64_t>("timestamp");
    if (auto const* body = f.object("payload")) {
        field_reader p(*body, *document, error);
        e.body = read_payload(p);
    }
    if (error != decode_error{})
        return error;
    return e;
}

} // namespace relay::protocol
