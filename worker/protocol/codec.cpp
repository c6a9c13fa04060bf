// The small pieces of codec.hpp shared by decoding and encoding: the error
// category, wire names and the HandshakeAck feature list.

#include "worker/protocol/codec.hpp"
#include "worker/protocol/wire_names.hpp"

#include <variant>

namespace relay::protocol {

namespace {

class protocol_category_impl final : public boost::system::error_category {
public:
    char const* name() const noexcept override { return "relay.protocol"; }

    std::string message(int code) const override
    {
        switch (static_cast<decode_error>(code)) {
        case decode_error::too_short:
            return "frame shorter than its length prefix";
        case decode_error::bad_json:
            return "invalid JSON";
        case decode_error::not_an_object:
            return "JSON document is not an object";
        case decode_error::missing_field:
            return "required field missing";
        case decode_error::wrong_type:
            return "field has the wrong JSON type";
        case decode_error::duplicate_key:
            return "duplicate key in JSON object";
        case decode_error::out_of_range:
            return "integer out of range for its field";
        case decode_error::bad_enum:
            return "unknown enumeration value";
        case decode_error::too_deep:
            return "JSON nested too deeply";
        }
        return "unknown relay.protocol error";
    }
};

} // namespace

boost::system::error_category const& protocol_category() noexcept
{
    static protocol_category_impl const category;
    return category;
}

boost::system::error_code make_error_code(decode_error e) noexcept
{
    return {static_cast<int>(e), protocol_category()};
}

std::string_view type_name(payload const& p)
{
    return std::visit(
        []<class T>(T const& body) -> std::string_view {
            if constexpr (std::is_same_v<T, unknown_payload>)
                return body.type;
            else
                return detail::wire_name<T>;
        },
        p);
}

char const* to_string(ack_status s) noexcept
{
    switch (s) {
    case ack_status::stored:
        return "Stored";
    case ack_status::delivered:
        return "Delivered";
    case ack_status::received_by_recipient:
        return "ReceivedByRecipient";
    case ack_status::failed:
        return "Failed";
    }
    return ""; // not a valid enumerator: only reachable through a bad cast
}

std::vector<std::string> const& handshake_features()
{
    // The order is part of the wire format (clients may compare lists).
    static std::vector<std::string> const features{
        "routing_token",    "suppress_presence",       "purge",     "device_sync", "recovery_proof", "account_revoked",
        "forwarding_hints", "authenticated_handshake", "live_push",
    };
    return features;
}

} // namespace relay::protocol
