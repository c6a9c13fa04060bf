#include "supervisor/listen_sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace relay::supervisor {
namespace {

/// Connections the kernel queues per slot while its worker is busy or respawning.
constexpr int listen_backlog = 4096;

int open_one(listen_address const& a, std::uint16_t port, bool reuse_port, char const* setting)
{
    bool const v6 = a.host.find(':') != std::string::npos;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        throw std::runtime_error(std::string("socket(): ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    int rc;
    if (v6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        ::inet_pton(AF_INET6, a.host.c_str(), &sa.sin6_addr);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        ::inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    if (rc != 0 || ::listen(fd, listen_backlog) != 0) {
        int const err = errno;
        ::close(fd);
        throw std::runtime_error(
            "cannot listen on " + a.host + ":" + std::to_string(port) + ": " + std::strerror(err) +
            (err == EADDRINUSE ? std::string(" (another process holds the port: stop it or change ") + setting + ")"
                               : std::string()));
    }
    return fd;
}

} // namespace

std::uint16_t bound_port(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

std::vector<int> open_listen_sockets(listen_address const& address, unsigned count)
{
    std::vector<int> fds;
    std::uint16_t port = address.port;
    for (unsigned i = 0; i < count; ++i) {
        fds.push_back(open_one(address, port, true, "RELAY_LISTEN_ADDR / --listen"));
        port = bound_port(fds.front());
    }
    return fds;
}

int open_metrics_socket(listen_address const& address)
{
    // Not SO_REUSEPORT: a second relay on the same metrics port must fail
    // loudly instead of silently answering half of the scrapes.
    return open_one(address, address.port, false, "RELAY_METRICS_ADDR");
}

} // namespace relay::supervisor
