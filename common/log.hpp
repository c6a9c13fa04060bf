#pragma once
// Minimal structured logging to stderr (journald adds its own timestamps; we
// add ours so a plain terminal run is readable too).
//
// Privacy: never pass client ids, routing tokens, device ids, key hashes, IP
// addresses or blob bytes to these functions. Connections are identified by a
// random session label (see random.hpp) and workers by their slot number.

#include <cstdarg>
#include <string_view>

namespace relay::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };

/// Sets the process-wide role tag printed in every line ("supervisor", "worker 3").
void set_role(std::string_view role);
/// Lines below this level are discarded.
void set_min_level(level min);
level min_level();

/// printf-style logging; one call writes one line atomically (single write(2)).
void write(level lvl, char const* fmt, ...) __attribute__((format(printf, 2, 3)));

} // namespace relay::log

#define RELAY_LOG_DEBUG(...) ::relay::log::write(::relay::log::level::debug, __VA_ARGS__)
#define RELAY_LOG_INFO(...) ::relay::log::write(::relay::log::level::info, __VA_ARGS__)
#define RELAY_LOG_WARN(...) ::relay::log::write(::relay::log::level::warn, __VA_ARGS__)
#define RELAY_LOG_ERROR(...) ::relay::log::write(::relay::log::level::error, __VA_ARGS__)
