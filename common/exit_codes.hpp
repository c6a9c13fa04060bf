#pragma once
// Exit codes shared by the supervisor and its children. The
// supervisor decides from them whether a child is respawned.

namespace relay::exit_code {

inline constexpr int ok = 0;             ///< clean exit (drain finished)
inline constexpr int config_error = 1;   ///< invalid configuration: fix it and start again
inline constexpr int fatal = 2;          ///< unrecoverable environment error: never respawned
inline constexpr int store_poisoned = 3; ///< the store failed verification: the supervisor escalates

} // namespace relay::exit_code
