#pragma once
// What the servers cost, read from /proc, and what the generator itself costs
// (getrusage). The server is a process tree (the relay: supervisor, workers,
// cleanup; the floor: one process), summed over every member alive at the time.

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace bench::loadgen {

/// `root` and every descendant, found by scanning /proc for parent ids.
std::vector<pid_t> process_tree(pid_t root);

struct cpu_sample {
    double seconds = 0; ///< utime + stime of every process of the tree
    unsigned processes = 0;
};
cpu_sample tree_cpu(pid_t root);

/// Sums of /proc/PID/smaps_rollup over the tree, in bytes. Pss divides each
/// shared page among the processes mapping it, so its sum counts the shared
/// store once. Anonymous is heap and stacks only: it leaves out the store
/// (a shared file or POSIX shm mapping) whoever touched it. Private is not a
/// per-connection measure for the relay: store pages first touched by the
/// supervisor count as its private pages until a worker touches them too.
struct memory_sample {
    std::uint64_t rss = 0;
    std::uint64_t pss = 0;
    std::uint64_t private_bytes = 0;
    std::uint64_t anonymous = 0;
    unsigned processes = 0;
};
memory_sample tree_memory(pid_t root);

/// User + system seconds of this process, all threads.
double self_cpu_seconds();

} // namespace bench::loadgen
