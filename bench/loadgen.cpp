// loadgen: the load generator of the benchmark (bench/README.md). Speaks the relay protocol (v1
// frames, unauthenticated handshakes) over Beast WebSockets from one or two
// threads, runs one scenario against one server, and prints one JSON report on
// stdout; progress goes to stderr once a second. Every phase has a deadline,
// so it always stops by itself. bench/README.md explains the scenarios.
//
//   loadgen --scenario store --port P --server-pid PID [--connections 100 --size 256 --window 1 ...]

#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <map>

#include "bench/loadgen/options.hpp"
#include "bench/loadgen/runner.hpp"
#include "bench/loadgen/scenarios.hpp"

namespace {

using namespace bench::loadgen;

/// The idle scenario holds one descriptor per connection: take the hard limit.
void raise_descriptor_limit()
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

} // namespace

int main(int argc, char** argv)
{
    namespace po = boost::program_options;
    options o;
    unsigned port = 0;
    po::options_description flags("loadgen options");
    flags.add_options()("help,h", "this text")("scenario", po::value(&o.scenario)->required(),
                                               "store, deliver, connect, idle, push or overhead")(
        "target", po::value(&o.target), "relay or floor (the floor needs no deliver setup)")(
        "host", po::value(&o.host), "server address (loopback)")("port", po::value(&port)->required(), "server port")(
        "server-pid", po::value(&o.server_pid), "root pid of the server's process tree, for CPU and memory")(
        "threads", po::value(&o.threads), "generator threads (1 or 2)")(
        "connections", po::value(&o.connections), "store/connect/idle: connections; deliver: recipients; push: pairs")(
        "size", po::value(&o.size), "ciphertext bytes per update")("window", po::value(&o.window),
                                                                   "store: outstanding updates per connection")(
        "blobs", po::value(&o.blobs), "deliver: blobs per recipient and round")("rounds", po::value(&o.rounds),
                                                                                "deliver: at most this many rounds")(
        "duration", po::value(&o.duration), "measured seconds")("warmup", po::value(&o.warmup), "seconds before")(
        "rate", po::value(&o.rate), "push: offered updates per second")("count", po::value(&o.count),
                                                                        "overhead: updates of mixed sizes")(
        "settle", po::value(&o.settle), "idle: seconds between the last handshake and the memory sample")(
        "cdf", po::value(&o.cdf_path), "write the latency CDF here (CSV)")(
        "proxy-header", po::value(&o.proxy_header),
        "connect: PROXY v2 header before each upgrade: 0 none, 1 in the request's segment, 2 in its own");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, flags), vm);
        if (vm.count("help")) {
            std::cout << flags;
            return 0;
        }
        po::notify(vm);
    } catch (std::exception const& e) {
        std::cerr << "loadgen: " << e.what() << "\n" << flags;
        return 1;
    }
    o.port = static_cast<std::uint16_t>(port);
    boost::system::error_code ec;
    auto const address = bench::net::ip::make_address(o.host, ec);
    if (ec || !address.is_loopback() || o.port == 0 || o.threads < 1 || o.threads > 2 || o.duration <= 0 ||
        o.duration > 3600) {
        std::cerr << "loadgen: needs a loopback --host, a --port, --threads 1-2 and --duration (0, 3600]\n";
        return 1;
    }
    static std::map<std::string, boost::json::object (*)(runner&)> const scenarios{
        {"store", run_store}, {"deliver", run_deliver}, {"connect", run_connect},
        {"idle", run_idle},   {"push", run_push},       {"overhead", run_overhead}};
    auto const it = scenarios.find(o.scenario);
    if (it == scenarios.end()) {
        std::cerr << "loadgen: unknown scenario " << o.scenario << "\n";
        return 1;
    }
    raise_descriptor_limit();
    boost::json::object report;
    {
        runner r(o);
        report = it->second(r);
    }
    std::cout << boost::json::serialize(report) << std::endl;
    return report.contains("error") ? 2 : 0;
}
