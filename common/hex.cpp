#include "common/hex.hpp"

namespace relay {

bool is_hex64(std::string_view text) noexcept
{
    if (text.size() != 64)
        return false;
    for (char c : text) {
        bool const ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!ok)
            return false;
    }
    return true;
}

} // namespace relay
