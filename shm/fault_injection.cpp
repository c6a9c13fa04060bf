#include "shm/fault_injection.hpp"

#if defined(VAUCHI_FAULT_INJECTION)
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace relay::shm {

void kill_point(char const* name)
{
    // Parsed on every call on purpose: tests arm points in freshly forked
    // children through the environment, and this build is never a fast one.
    static thread_local unsigned hits = 0;
    char const* armed = std::getenv("VAUCHI_KILL_POINT");
    if (armed == nullptr)
        return;
    char const* colon = std::strrchr(armed, ':');
    std::string armed_name = colon ? std::string(armed, colon) : std::string(armed);
    if (armed_name != name)
        return;
    unsigned long const nth = colon ? std::strtoul(colon + 1, nullptr, 10) : 1;
    if (++hits >= nth)
        ::kill(::getpid(), SIGKILL);
}

} // namespace relay::shm
#endif
