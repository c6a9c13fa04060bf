#pragma once
// Small pieces of reading text fields from the network and from settings:
// the blanks around a list entry, and a port number written in decimal.

#include <charconv>
#include <string_view>

namespace relay {

/// `s` without the spaces and tabs around it (HTTP's optional whitespace).
constexpr std::string_view trim_blanks(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

/// A TCP port in decimal, 0–65535, digits only (no sign). `leading_zeros`:
/// whether "0443" counts; the PROXY protocol's v1 line forbids it.
inline bool is_decimal_port(std::string_view s, bool leading_zeros) noexcept
{
    if (s.empty() || s.size() > 5 || (!leading_zeros && s.size() > 1 && s.front() == '0'))
        return false;
    unsigned value = 0;
    auto const [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size() && value <= 65535;
}

} // namespace relay
