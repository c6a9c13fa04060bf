#pragma once
#include <string_view>

namespace relay {

/// True for exactly 64 characters of 0-9, a-f or A-F (PROTOCOL.md §1 "hex64").
bool is_hex64(std::string_view text) noexcept;

} // namespace relay
