#include "shm/fault_injection.hpp"

namespace relay::shm {
namespace {
bool kill_points_enabled = false;
}
void enable_kill_points() { kill_points_enabled = true; }
} // namespace relay::shm

#if defined(VAUCHI_FAULT_INJECTION)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

namespace relay::shm {

std::uint32_t test_capacity(char const* name, std::uint32_t normal)
{
    char const* set = std::getenv(name);
    if (set == nullptr)
        return normal;
    unsigned long const wanted = std::strtoul(set, nullptr, 10);
    return wanted != 0 && wanted < normal ? static_cast<std::uint32_t>(wanted) : normal;
}

void kill_point(char const* name)
{
    char const* armed = kill_points_enabled ? std::getenv("VAUCHI_KILL_POINT") : nullptr;
    if (armed == nullptr)
        return;
    // Per-process hit counts; parsed on every call on purpose (this build is
    // never a fast one, and tests arm points in freshly forked children).
    static std::map<std::string, unsigned long> hits;
    std::string_view spec(armed);
    while (!spec.empty()) {
        auto const comma = spec.find(',');
        std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        auto const colon = item.rfind(':');
        std::string_view const point = item.substr(0, colon);
        if (point != name)
            continue;
        unsigned long const nth = colon == std::string_view::npos
            ? 1
            : std::strtoul(std::string(item.substr(colon + 1)).c_str(), nullptr, 10);
        if (++hits[std::string(point)] < nth)
            return;
        if (char const* token = std::getenv("VAUCHI_KILL_POINT_TOKEN")) {
            std::string const path = std::string(token) + "." + name;
            int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
            if (fd < 0)
                return; // already fired somewhere in this relay
            ::close(fd);
        }
        // VAUCHI_KILL_POINT_SIGNAL=STOP stops the process there instead: it
        // keeps whatever lock it holds until someone kills it.
        char const* how = std::getenv("VAUCHI_KILL_POINT_SIGNAL");
        ::kill(::getpid(), how != nullptr && std::string_view(how) == "STOP" ? SIGSTOP : SIGKILL);
    }
}

} // namespace relay::shm
#endif
