#pragma once
// Helpers shared by the protocol tests: build frames around JSON text and
// name decode outcomes so failures print readably.

#include "worker/protocol/codec.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace relay::protocol::test {

/// `json` behind a 4-byte prefix holding `prefix` (the correct length by default).
inline std::string frame_of(std::string_view json, std::int64_t prefix = -1)
{
    auto const length = static_cast<std::uint32_t>(prefix < 0 ? json.size() : prefix);
    std::string frame{static_cast<char>(length >> 24), static_cast<char>(length >> 16 & 0xff),
                      static_cast<char>(length >> 8 & 0xff), static_cast<char>(length & 0xff)};
    frame.append(json);
    return frame;
}

/// The JSON text of a frame (everything after the prefix).
inline std::string json_of(std::string const& frame) { return frame.substr(frame_prefix_size); }

/// A complete envelope around a payload object given as JSON text.
inline std::string envelope_json(std::string_view payload_json)
{
    return std::string(R"({"version":1,"message_id":"m-1","timestamp":1700000000,"payload":)")
        .append(payload_json)
        .append("}");
}

inline char const* name_of(decode_error e)
{
    switch (e) {
    case decode_error::too_short:
        return "too_short";
    case decode_error::bad_json:
        return "bad_json";
    case decode_error::not_an_object:
        return "not_an_object";
    case decode_error::missing_field:
        return "missing_field";
    case decode_error::wrong_type:
        return "wrong_type";
    case decode_error::duplicate_key:
        return "duplicate_key";
    case decode_error::out_of_range:
        return "out_of_range";
    case decode_error::bad_enum:
        return "bad_enum";
    case decode_error::too_deep:
        return "too_deep";
    }
    return "?";
}

/// "ok" when the frame decodes, else the decode_error's name (or the foreign
/// error's message, which a test should never see).
inline std::string outcome_of_frame(std::string_view frame)
{
    auto const result = decode_frame(frame);
    if (result)
        return "ok";
    if (result.error().category() != protocol_category())
        return result.error().message();
    return name_of(static_cast<decode_error>(result.error().value()));
}

/// outcome_of_frame for a whole envelope given as JSON text.
inline std::string outcome(std::string_view json) { return outcome_of_frame(frame_of(json)); }

/// outcome for an envelope around a payload given as JSON text.
inline std::string payload_outcome(std::string_view payload_json) { return outcome(envelope_json(payload_json)); }

} // namespace relay::protocol::test
