// libFuzzer target: the frame/JSON codec (issue 5). Any input must decode or
// fail cleanly; whatever decodes must re-encode to a frame that decodes to the
// same envelope (the codec is its own oracle).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "worker/protocol/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view const frame(reinterpret_cast<char const*>(data), size);
    auto decoded = relay::protocol::decode_frame(frame);
    if (!decoded)
        return 0;
    std::string const again = relay::protocol::encode_frame(*decoded);
    auto redecoded = relay::protocol::decode_frame(again);
    if (!redecoded || !(*redecoded == *decoded))
        std::abort(); // the encoder wrote something the decoder reads differently
    return 0;
}
