#pragma once
// Named kill points for crash-safety tests (issue 3). Compiled in only with
// -Dfault_injection=true; VAUCHI_KILL_POINT=NAME:N makes the process SIGKILL
// itself the N-th time it reaches the point called NAME. In normal builds the
// macro expands to nothing, so the hot paths pay nothing.

#if defined(VAUCHI_FAULT_INJECTION)
namespace relay::shm {
void kill_point(char const* name);
}
#define RELAY_KILL_POINT(name) ::relay::shm::kill_point(name)
#else
#define RELAY_KILL_POINT(name) static_cast<void>(0)
#endif
