#include "noise/transport.hpp"

namespace relay::noise {

bool transport::encrypt(std::span<std::uint8_t const> plaintext, std::vector<std::uint8_t>& out)
{
    out.clear();
    if (plaintext.size() > max_transport_plaintext)
        return false;
    // Transport messages have empty associated data (spec §5.3 Split).
    return send_.encrypt_with_ad({}, plaintext, out);
}

bool transport::decrypt(std::span<std::uint8_t const> ciphertext, std::vector<std::uint8_t>& out)
{
    out.clear();
    return receive_.decrypt_with_ad({}, ciphertext, out);
}

} // namespace relay::noise
