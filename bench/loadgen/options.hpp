#pragma once
// Command-line settings of the load generator (bench/loadgen.cpp --help).

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace bench::loadgen {

struct options {
    std::string scenario;         ///< store, deliver, connect, idle, push, overhead
    std::string target = "relay"; ///< relay or floor: only the deliver setup differs
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    pid_t server_pid = 0;       ///< root of the server's process tree (0: not measured)
    unsigned threads = 1;       ///< generator threads, each with its own io_context
    unsigned connections = 100; ///< store/connect/idle: C; deliver: R; push: pairs
    std::size_t size = 256;     ///< ciphertext bytes S
    unsigned window = 1;        ///< store: W outstanding updates per connection
    unsigned blobs = 100;       ///< deliver: K per recipient and round
    unsigned rounds = 50;       ///< deliver: at most this many rounds
    double duration = 10;       ///< measured seconds (deliver: total of the rounds)
    double warmup = 1;          ///< seconds of load before the window opens
    double rate = 2000;         ///< push: offered updates per second, all senders
    unsigned count = 2000;      ///< overhead: updates of mixed sizes
    double settle = 2;          ///< idle: seconds between the last handshake and the sample
    std::string cdf_path;       ///< where to write the latency CDF (CSV), if set
    /// connect: write a PROXY v2 header before each upgrade, as HAProxy's
    /// send-proxy-v2 does (the relay runs with RELAY_PROXY_PROTOCOL=on):
    /// 0 none, 1 in the upgrade request's segment, 2 in a segment of its own.
    unsigned proxy_header = 0;
};

} // namespace bench::loadgen
