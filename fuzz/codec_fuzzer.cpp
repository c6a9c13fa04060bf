// libFuzzer target: the frame/JSON codec, hostile input and its fast paths. Any input must
// decode or fail cleanly; the byte-array fast path must give exactly what the
// general parser gives, with every conversion (array_digits.hpp); whatever
// decodes must re-encode to a frame that decodes to the same envelope (the
// codec is its own oracle).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "worker/protocol/array_digits.hpp"
#include "worker/protocol/byte_array_scan.hpp"
#include "worker/protocol/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    namespace detail = relay::protocol::detail;
    std::string_view const frame(reinterpret_cast<char const*>(data), size);
    detail::set_byte_array_prescan(false);
    auto const general = relay::protocol::decode_frame(frame);
    detail::set_byte_array_prescan(true);
    // The input's length picks the conversion (scalar, SSSE3, AVX2 where the
    // CPU has them), so that each meets every input shape.
    detail::limit_array_digits_path(static_cast<detail::array_digits_path>(size % 3));
    auto decoded = relay::protocol::decode_frame(frame);
    if (general.has_value() != decoded.has_value())
        std::abort(); // the fast path accepted or refused what the general parser did not
    if (!decoded) {
        if (general.error() != decoded.error())
            std::abort();
        return 0;
    }
    if (!(*general == *decoded))
        std::abort();
    std::string const again = relay::protocol::encode_frame(*decoded);
    auto redecoded = relay::protocol::decode_frame(again);
    if (!redecoded || !(*redecoded == *decoded))
        std::abort(); // the encoder wrote something the decoder reads differently
    return 0;
}
