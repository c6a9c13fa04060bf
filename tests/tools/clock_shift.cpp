// An LD_PRELOAD shim that steps the wall clock of a running process, and
// nothing else: CLOCK_REALTIME (and time(), gettimeofday()) read the real
// clock plus the offset in seconds written in the file named by
// VAUCHI_CLOCK_SHIFT_FILE. CLOCK_MONOTONIC and every timer stay real, as
// they do when NTP steps a host's clock. libfaketime would also shift
// absolute timerfd deadlines, which Asio uses, and stall the relay's timers.

#include <dlfcn.h>
#include <sys/time.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace {

using clock_gettime_fn = int (*)(clockid_t, timespec*);

clock_gettime_fn real_clock_gettime()
{
    static auto const fn = reinterpret_cast<clock_gettime_fn>(::dlsym(RTLD_NEXT, "clock_gettime"));
    return fn;
}

/// The offset, read again at most every 20 ms of real monotonic time.
long offset_seconds()
{
    static long offset = 0;
    static long long checked_ms = -1000;
    timespec mono{};
    real_clock_gettime()(CLOCK_MONOTONIC, &mono);
    long long const now_ms = mono.tv_sec * 1000LL + mono.tv_nsec / 1000000;
    if (now_ms - checked_ms >= 20) {
        checked_ms = now_ms;
        if (char const* path = std::getenv("VAUCHI_CLOCK_SHIFT_FILE")) {
            if (FILE* f = std::fopen(path, "r")) {
                long value = 0;
                if (std::fscanf(f, "%ld", &value) == 1)
                    offset = value;
                std::fclose(f);
            }
        }
    }
    return offset;
}

} // namespace

extern "C" {

int clock_gettime(clockid_t id, timespec* ts)
{
    int const rc = real_clock_gettime()(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset_seconds();
    return rc;
}

time_t time(time_t* out)
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != nullptr)
        *out = ts.tv_sec;
    return ts.tv_sec;
}

int gettimeofday(timeval* tv, void*)
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = static_cast<suseconds_t>(ts.tv_nsec / 1000);
    return 0;
}

} // extern "C"
