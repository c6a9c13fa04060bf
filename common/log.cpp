#include "common/log.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <algorithm>
#include <ctime>

namespace relay::log {
namespace {

// Each process has one role; set once after fork, read on every line.
std::array<char, 32> role_tag{"relay"};
std::atomic<int> min_lvl{static_cast<int>(level::info)};

char const* level_name(level lvl)
{
    switch (lvl) {
    case level::debug:
        return "debug";
    case level::info:
        return "info";
    case level::warn:
        return "warn";
    case level::error:
        return "error";
    }
    return "?";
}

} // namespace

void set_role(std::string_view role)
{
    auto const n = std::min(role.size(), role_tag.size() - 1);
    role.copy(role_tag.data(), n);
    role_tag[n] = '\0';
}

void set_min_level(level min) { min_lvl.store(static_cast<int>(min), std::memory_order_relaxed); }

level min_level() { return static_cast<level>(min_lvl.load(std::memory_order_relaxed)); }

void write(level lvl, char const* fmt, ...)
{
    if (static_cast<int>(lvl) < min_lvl.load(std::memory_order_relaxed))
        return;
    std::array<char, 1024> line{};
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    int n = std::snprintf(line.data(), line.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s pid %d] ",
                          utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                          ts.tv_nsec / 1000000, level_name(lvl), role_tag.data(), static_cast<int>(getpid()));
    if (n < 0)
        return;
    va_list args;
    va_start(args, fmt);
    int m = std::vsnprintf(line.data() + n, line.size() - static_cast<std::size_t>(n), fmt, args);
    va_end(args);
    std::size_t len = static_cast<std::size_t>(n) + (m < 0 ? 0 : static_cast<std::size_t>(m));
    if (len > line.size() - 2)
        len = line.size() - 2; // truncated: still end the line
    line[len++] = '\n';
    // One write per line so lines from several processes never interleave.
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), len);
}

} // namespace relay::log
