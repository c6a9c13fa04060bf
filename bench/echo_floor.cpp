// echo_floor: the floor of the benchmark (bench/README.md). A bare Beast WebSocket server built with
// the relay's library versions and flags that parses nothing and answers with
// canned frames (bench/floor/floor_session.hpp lists what it answers). N
// worker threads, each with its own io_context and SO_REUSEPORT socket, stand
// for the relay's N worker processes; threads let the push pairs cross workers
// with one post instead of a shared-memory ring, which keeps the floor a floor.
//
//   echo_floor [--listen 127.0.0.1:0] [--workers N] [--inline-echo] [--max-seconds S]
//
// Prints "floor ready: listening on 127.0.0.1:PORT with N workers" once every
// worker accepts, and stops on SIGTERM/SIGINT or after --max-seconds.

#include <boost/program_options.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/floor/floor_session.hpp"

namespace {

namespace floor = bench::floor;
namespace net = bench::net;
using bench::tcp;

/// The relay's listen backlog (supervisor/listen_sockets.cpp).
constexpr int listen_backlog = 4096;

bool open_listener(tcp::acceptor& acceptor, net::ip::address const& address, std::uint16_t port)
{
    boost::system::error_code ec;
    acceptor.open(tcp::v4(), ec);
    if (ec)
        return false;
    int const one = 1;
    ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor.bind({address, port}, ec);
    if (!ec)
        acceptor.listen(listen_backlog, ec);
    return !ec;
}

} // namespace

int main(int argc, char** argv)
{
    namespace po = boost::program_options;
    std::string listen = "127.0.0.1:0";
    unsigned workers = 1;
    unsigned max_seconds = 7200;
    bool inline_echo = false;
    po::options_description flags("echo_floor options");
    flags.add_options()("help,h", "this text")("listen", po::value(&listen), "loopback ip:port (port 0 picks one)")(
        "workers", po::value(&workers), "worker threads, 1-64")(
        "inline-echo", po::bool_switch(&inline_echo), "echo sessions answer from the reader (no writer queue)")(
        "max-seconds", po::value(&max_seconds), "exit after this long even if never signalled");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, flags), vm);
        po::notify(vm);
    } catch (std::exception const& e) {
        std::cerr << "echo_floor: " << e.what() << "\n" << flags;
        return 1;
    }
    if (vm.count("help")) {
        std::cout << flags;
        return 0;
    }
    auto const colon = listen.rfind(':');
    boost::system::error_code ec;
    auto const address = net::ip::make_address(listen.substr(0, colon), ec);
    if (colon == std::string::npos || ec || !address.is_v4() || !address.is_loopback() || workers < 1 || workers > 64) {
        std::cerr << "echo_floor: --listen must be a 127.x.y.z address with a port, --workers 1-64\n";
        return 1;
    }
    auto port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));

    // Signals are taken by sigtimedwait below, never by a worker thread.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    floor::push_registry registry;
    std::vector<std::unique_ptr<floor::floor_worker>> pool;
    for (unsigned i = 0; i < workers; ++i) {
        auto w = std::make_unique<floor::floor_worker>();
        w->registry = &registry;
        w->inline_echo = inline_echo;
        if (!open_listener(w->acceptor, address, port)) {
            std::cerr << "echo_floor: cannot listen on " << listen << "\n";
            return 1;
        }
        port = w->acceptor.local_endpoint().port(); // the port 0 resolved to, for the other workers
        net::co_spawn(w->ioc, floor::accept_loop(*w), net::detached);
        net::co_spawn(w->ioc, floor::heartbeat_loop(*w), net::detached);
        pool.push_back(std::move(w));
    }
    std::vector<std::thread> threads;
    for (auto& w : pool)
        threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
    std::printf("floor ready: listening on %s:%u with %u workers%s\n", address.to_string().c_str(), port, workers,
                inline_echo ? " (inline echo)" : "");
    std::fflush(stdout);

    // EINTR (a debugger or strace attaching) is not a reason to stop: wait again
    // for whatever is left of --max-seconds.
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(max_seconds);
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        timespec limit{static_cast<std::time_t>(left.count()), 0};
        if (::sigtimedwait(&stop_signals, nullptr, &limit) >= 0 || errno != EINTR)
            break;
    }
    for (auto& w : pool)
        w->ioc.stop();
    for (auto& t : threads)
        t.join();
    return 0;
}
