#pragma once
// sd_notify(3) when built with libsystemd and started by systemd with
// NOTIFY_SOCKET; otherwise nothing.

namespace relay::supervisor {

void notify_systemd(char const* state);

} // namespace relay::supervisor
