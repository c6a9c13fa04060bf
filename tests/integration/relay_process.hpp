#pragma once
// Starts the real vauchi-relay binary on a loopback port for integration tests
// and stops it again; every instance gets its own data directory and log file.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace relay::testing {

struct relay_options {
    unsigned workers = 4;                   ///< 0: no --workers flag (RELAY_WORKERS or the CPU count decide)
    std::map<std::string, std::string> env; ///< RELAY_* variables for this run
    std::vector<std::string> extra_args;
    std::string data_dir; ///< empty: a fresh temporary directory
    bool expect_ready = true;
    std::string listen = "127.0.0.1:0"; ///< --listen
};

class relay_process {
public:
    explicit relay_process(relay_options options = {});
    ~relay_process();
    relay_process(relay_process const&) = delete;
    relay_process& operator=(relay_process const&) = delete;

    std::uint16_t port() const { return port_; }
    std::uint16_t metrics_port() const { return metrics_port_; }
    pid_t pid() const { return pid_; }
    std::string const& data_dir() const { return options_.data_dir; }
    std::string log() const;

    /// SIGTERM and wait (bounded); returns the exit status from waitpid.
    int stop(std::chrono::seconds timeout = std::chrono::seconds(15));
    /// Waits for the relay to exit on its own; returns the waitpid status, or -1
    /// if it is still running after `timeout` (it is then killed).
    int wait_exit(std::chrono::seconds timeout = std::chrono::seconds(10));
    /// SIGKILL the supervisor and wait for it.
    void kill_hard();
    /// Starts again with the same options and data directory (new port).
    void restart();
    /// Every child of the supervisor (workers and cleanup).
    std::vector<pid_t> children() const;
    /// The latest pid of each worker slot, from the supervisor's log.
    std::map<unsigned, pid_t> worker_pids() const;
    /// Waits until the log contains `text` (after the current start).
    bool wait_for_log(std::string const& text, std::chrono::milliseconds timeout) const;

private:
    void start();
    relay_options options_;
    std::string log_path_;
    std::size_t log_offset_ = 0;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::uint16_t metrics_port_ = 0;
    bool own_dir_ = false;
};

/// Options with these RELAY_* variables set (designated initializers would
/// trip -Wmissing-field-initializers).
inline relay_options with_env(std::map<std::string, std::string> env)
{
    relay_options o;
    o.env = std::move(env);
    return o;
}

/// Path of the binary under test (set by meson).
std::string relay_binary();

} // namespace relay::testing
