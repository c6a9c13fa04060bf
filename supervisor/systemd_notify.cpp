#include "supervisor/systemd_notify.hpp"

#if defined(VAUCHI_HAVE_SYSTEMD)
#include <systemd/sd-daemon.h>
#endif

namespace relay::supervisor {

void notify_systemd([[maybe_unused]] std::string const& state)
{
#if defined(VAUCHI_HAVE_SYSTEMD)
    sd_notify(0, state.c_str());
#endif
}

std::uint64_t watchdog_interval_usec()
{
#if defined(VAUCHI_HAVE_SYSTEMD)
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        return usec;
#endif
    return 0;
}

} // namespace relay::supervisor
