// The sd_notify protocol as systemd sees it (Type=notify, WatchdogSec=): the
// test plays systemd's part with its own NOTIFY_SOCKET.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "test_support.hpp"

using namespace relay::testing;

namespace {

/// A datagram socket standing in for systemd's notification socket.
class notify_listener {
public:
    notify_listener() : path_("/tmp/vauchi-notify-" + std::to_string(::getpid()) + ".sock")
    {
        ::unlink(path_.c_str());
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
        BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        timeval tv{0, 100000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~notify_listener()
    {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    std::string const& path() const { return path_; }

    /// Every message received within `window`, in order.
    std::vector<std::string> collect(std::chrono::milliseconds window)
    {
        std::vector<std::string> out;
        auto const end = std::chrono::steady_clock::now() + window;
        while (std::chrono::steady_clock::now() < end) {
            char buf[4096];
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0)
                out.emplace_back(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

private:
    std::string path_;
    int fd_ = -1;
};

int count_of(std::vector<std::string> const& msgs, std::string const& what)
{
    int n = 0;
    for (auto const& m : msgs)
        n += m.find(what) != std::string::npos;
    return n;
}

std::ptrdiff_t first_of(std::vector<std::string> const& msgs, std::string const& what)
{
    for (std::size_t i = 0; i < msgs.size(); ++i)
        if (msgs[i].find(what) != std::string::npos)
            return static_cast<std::ptrdiff_t>(i);
    return -1;
}

} // namespace

BOOST_AUTO_TEST_SUITE(systemd_notify)

BOOST_AUTO_TEST_CASE(ready_status_watchdog_and_stopping_arrive_in_order_and_the_watchdog_needs_every_worker)
{
    notify_listener systemd;
    relay_process relay(with_env({{"NOTIFY_SOCKET", systemd.path()}, {"WATCHDOG_USEC", "400000"}}));
    auto msgs = systemd.collect(1500ms);
    auto const ready = first_of(msgs, "READY=1");
    BOOST_TEST_REQUIRE(ready >= 0);
    BOOST_TEST(first_of(msgs, "STATUS=verifying the store") < ready);
    BOOST_TEST(count_of(msgs, "STATUS=2/2 workers serving") + count_of(msgs, "STATUS=4/4 workers serving") == 1);
    BOOST_TEST(count_of(msgs, "WATCHDOG=1") >= 3); // every 200 ms
    BOOST_TEST(first_of(msgs, "WATCHDOG=1") > ready);

    // A wedged worker (stopped, so it neither dies nor heartbeats) stops the
    // watchdog feed, so systemd would restart the unit.
    auto const workers = relay.worker_pids();
    ::kill(workers.begin()->second, SIGSTOP);
    systemd.collect(3500ms); // its last beat goes stale after 3 s
    BOOST_TEST(count_of(systemd.collect(1000ms), "WATCHDOG=1") == 0);
    ::kill(workers.begin()->second, SIGCONT);
    BOOST_TEST(count_of(systemd.collect(1500ms), "WATCHDOG=1") >= 2);

    ::kill(relay.pid(), SIGTERM);
    msgs = systemd.collect(1000ms);
    BOOST_TEST(count_of(msgs, "STOPPING=1") == 1);
    BOOST_TEST(relay.wait_exit() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
