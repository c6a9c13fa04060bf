#include "bench/loadgen/proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace bench::loadgen {
namespace {

/// Fields of /proc/PID/stat after the command name, which may hold spaces
/// and parentheses; the last ')' ends it.
std::vector<std::string> stat_fields(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return {};
    auto const close = line.rfind(')');
    if (close == std::string::npos)
        return {};
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;)
        fields.push_back(f);
    return fields; // fields[0] is the state (stat field 3)
}

} // namespace

std::vector<pid_t> process_tree(pid_t root)
{
    std::vector<pid_t> tree{root};
    std::vector<std::pair<pid_t, pid_t>> parent_of;
    std::error_code ec;
    for (auto const& entry : std::filesystem::directory_iterator("/proc", ec)) {
        auto const name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        auto const pid = static_cast<pid_t>(std::stol(name));
        auto const f = stat_fields(pid);
        if (f.size() > 1)
            parent_of.emplace_back(pid, static_cast<pid_t>(std::stol(f[1])));
    }
    // Breadth-first over the parent links; the tree is a handful of processes.
    for (std::size_t i = 0; i < tree.size(); ++i)
        for (auto const& [pid, ppid] : parent_of)
            if (ppid == tree[i])
                tree.push_back(pid);
    return tree;
}

cpu_sample tree_cpu(pid_t root)
{
    cpu_sample s;
    if (root <= 0)
        return s;
    static double const ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    for (pid_t pid : process_tree(root)) {
        auto const f = stat_fields(pid);
        if (f.size() < 13)
            continue;
        // stat fields 14 (utime) and 15 (stime) are f[11] and f[12].
        s.seconds += static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / ticks;
        ++s.processes;
    }
    return s;
}

memory_sample tree_memory(pid_t root)
{
    memory_sample m;
    if (root <= 0)
        return m;
    for (pid_t pid : process_tree(root)) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
        if (!in)
            continue;
        ++m.processes;
        std::string key;
        std::uint64_t kib = 0;
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            if (!(fields >> key >> kib))
                continue;
            if (key == "Rss:")
                m.rss += kib * 1024;
            else if (key == "Pss:")
                m.pss += kib * 1024;
            else if (key == "Private_Clean:" || key == "Private_Dirty:")
                m.private_bytes += kib * 1024;
            else if (key == "Anonymous:")
                m.anonymous += kib * 1024;
        }
    }
    return m;
}

double self_cpu_seconds()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto const sec = [](timeval const& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

} // namespace bench::loadgen
