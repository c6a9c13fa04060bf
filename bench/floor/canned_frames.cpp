#include "bench/floor/canned_frames.hpp"

#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

#include "common/random.hpp"
#include "worker/protocol/codec.hpp"

namespace bench::floor {
namespace {

namespace protocol = relay::protocol;

frame_ptr ack(protocol::ack_status status)
{
    auto const now = static_cast<std::uint64_t>(std::time(nullptr));
    return std::make_shared<std::string const>(
        protocol::encode_ack(relay::random::new_uuid_string(), now, relay::random::new_uuid_string(), status));
}

} // namespace

canned_frames::canned_frames()
    : handshake_ack_(std::make_shared<std::string const>(protocol::encode_handshake_ack(
          relay::random::new_uuid_string(), static_cast<std::uint64_t>(std::time(nullptr)), false))),
      stored_ack_(ack(protocol::ack_status::stored)), delivered_ack_(ack(protocol::ack_status::delivered)),
      received_ack_(ack(protocol::ack_status::received_by_recipient))
{
}

frame_ptr const& canned_frames::delivery(std::size_t ciphertext_size)
{
    auto& slot = deliveries_[ciphertext_size];
    if (!slot) {
        // Uniform random bytes print as the same mix of 1-3 digit numbers as a
        // real ciphertext, so the frame has a realistic length.
        std::mt19937 rng(static_cast<std::uint32_t>(ciphertext_size));
        std::vector<std::uint8_t> ciphertext(ciphertext_size);
        for (auto& b : ciphertext)
            b = static_cast<std::uint8_t>(rng());
        std::string recipient(64, 'a');
        slot = std::make_shared<std::string const>(protocol::encode_delivery(
            relay::random::new_uuid_string(), static_cast<std::uint64_t>(std::time(nullptr)), recipient, ciphertext));
    }
    return slot;
}

} // namespace bench::floor
