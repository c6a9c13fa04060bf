#pragma once
// Builds the effective configuration from the Rust relay's environment
// variables (docs/protocol.md#s12-1, same names and defaults except D-12) and our
// command-line flags, which override them.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace relay::supervisor {

/// An invalid setting; the message names the variable or flag and what is accepted.
struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Reads one environment variable (injectable for tests).
using env_lookup = std::function<std::optional<std::string>(char const* name)>;
env_lookup process_environment();

/// Outcome of parsing: either a configuration or a request to print text
/// (--help, --version) and exit 0.
struct load_result {
    std::optional<config> cfg;
    std::string print; ///< non-empty for --help / --version
    /// Values accepted but changed to fit this relay (logged at start).
    std::vector<std::string> warnings;
};

/// Throws config_error on any invalid value.
load_result load_config(int argc, char const* const* argv, env_lookup const& env);

/// One line per setting, for the start-up log (secrets masked).
std::string describe(config const& cfg);

/// Parses "ip:port" / "[ipv6]:port" (literal addresses only, like the Rust relay).
std::optional<listen_address> parse_address(std::string const& text);
bool is_loopback(listen_address const& address);

} // namespace relay::supervisor
