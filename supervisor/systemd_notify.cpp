#include "supervisor/systemd_notify.hpp"

#if defined(VAUCHI_HAVE_SYSTEMD)
#include <systemd/sd-daemon.h>
#endif

namespace relay::supervisor {

void notify_systemd([[maybe_unused]] char const* state)
{
#if defined(VAUCHI_HAVE_SYSTEMD)
    sd_notify(0, state);
#endif
}

} // namespace relay::supervisor
