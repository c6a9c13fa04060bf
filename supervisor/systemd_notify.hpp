#pragma once
// sd_notify(3) when built with libsystemd and started by systemd with
// NOTIFY_SOCKET; otherwise nothing.

#include <cstdint>
#include <string>

namespace relay::supervisor {

void notify_systemd(std::string const& state);

/// The watchdog interval systemd asked for (WatchdogSec=), 0 if none.
std::uint64_t watchdog_interval_usec();

} // namespace relay::supervisor
