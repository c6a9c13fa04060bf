#include "worker/protocol/canonical_update.hpp"

#include "worker/protocol/byte_array_scan.hpp"

#include <cstdint>
#include <cstring>
#include <limits>

namespace relay::protocol::detail {
namespace {

/// Reads the canonical shape left to right; every reader returns false (and
/// the caller gives up) at the first byte it does not expect.
class cursor {
public:
    explicit cursor(std::string_view text) noexcept : text_(text) {}

    std::size_t offset() const noexcept { return at_; }
    void move_to(std::size_t offset) noexcept { at_ = offset; }
    bool at_end() const noexcept { return at_ == text_.size(); }

    bool literal(std::string_view expected) noexcept
    {
        if (text_.size() - at_ < expected.size() ||
            std::memcmp(text_.data() + at_, expected.data(), expected.size()) != 0)
            return false;
        at_ += expected.size();
        return true;
    }

    /// The rest of a string whose opening quote the last literal consumed.
    /// Only printable ASCII without escapes: such a string is valid UTF-8 and
    /// its JSON value is its text. Control characters are invalid JSON, and
    /// escapes and other bytes are the general parser's business.
    bool plain_string(std::string_view& out) noexcept
    {
        std::size_t const start = at_;
        for (; at_ < text_.size(); ++at_) {
            auto const c = static_cast<unsigned char>(text_[at_]);
            if (c == '"') {
                out = text_.substr(start, at_ - start);
                ++at_;
                return true;
            }
            if (c < 0x20 || c >= 0x80 || c == '\\')
                return false;
        }
        return false;
    }

    /// A JSON integer without sign, fraction or exponent, at most `max`: no
    /// leading zero (invalid JSON), and at most 19 digits, so that the value
    /// cannot wrap. The next character must be `terminator`, which is consumed.
    bool integer(std::uint64_t max, char terminator, std::uint64_t& out) noexcept
    {
        std::size_t const start = at_;
        std::uint64_t value = 0;
        while (at_ < text_.size() && at_ - start < 19 && text_[at_] >= '0' && text_[at_] <= '9')
            value = value * 10 + static_cast<std::uint64_t>(text_[at_++] - '0');
        std::size_t const digits = at_ - start;
        if (digits == 0 || (digits > 1 && text_[start] == '0') || value > max)
            return false;
        if (at_ == text_.size() || text_[at_] != terminator)
            return false; // a 20th digit, '.', 'e', whitespace...: not canonical
        ++at_;
        out = value;
        return true;
    }

private:
    std::string_view text_;
    std::size_t at_ = 0;
};

} // namespace

std::optional<envelope> decode_canonical_update(std::string_view json)
{
    if (!byte_array_prescan_enabled())
        return std::nullopt; // tests and the fuzzer compare with the general path
    cursor c(json);
    std::uint64_t version = 0;
    std::uint64_t timestamp = 0;
    // Views into `json` until the whole shape is confirmed: every other
    // message type leaves at the "payload" literal without allocating.
    std::string_view message_id;
    std::string_view recipient_id;
    if (!c.literal(R"({"version":)") || !c.integer(std::numeric_limits<std::uint8_t>::max(), ',', version) ||
        !c.literal(R"("message_id":")") || !c.plain_string(message_id) || !c.literal(R"(,"timestamp":)") ||
        !c.integer(std::numeric_limits<std::uint64_t>::max(), ',', timestamp) ||
        !c.literal(R"("payload":{"type":"EncryptedUpdate","recipient_id":")") || !c.plain_string(recipient_id) ||
        !c.literal(R"(,"ciphertext":)"))
        return std::nullopt;
    encrypted_update u;
    std::size_t const array_end = scan_byte_array(json, c.offset(), u.ciphertext);
    if (array_end == 0)
        return std::nullopt;
    c.move_to(array_end);
    if (!c.literal("}}") || !c.at_end())
        return std::nullopt;
    u.recipient_id = recipient_id;
    envelope e;
    e.version = static_cast<std::uint8_t>(version);
    e.message_id = message_id;
    e.timestamp = timestamp;
    e.body = std::move(u);
    return e;
}

} // namespace relay::protocol::detail
