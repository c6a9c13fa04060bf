#pragma once
// A small POSIX-shm store per test, named after the test process so parallel
// test runs never share one.

#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "shm/segment.hpp"
#include "shm/store.hpp"

#include <boost/test/tools/assertion_result.hpp>

namespace relay::shm::testing {

inline geometry small_geometry(std::uint64_t arena_bytes = 4u << 20, std::uint32_t shards = 4)
{
    geometry g;
    g.shard_count = shards;
    g.arena_bytes = arena_bytes;
    g.rate_table_entries = 1024;
    g.presence_capacity = 64;
    return g;
}

struct scratch_store {
    explicit scratch_store(geometry const& g = small_geometry())
        : name("/vauchi-relay-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)),
          seg(segment::create_memory(name, g)), st(seg.base())
    {
        st.reinit_locks();
    }
    ~scratch_store() { segment::remove_memory(name); }
    scratch_store(scratch_store const&) = delete;
    scratch_store& operator=(scratch_store const&) = delete;

    static inline int counter = 0;
    std::string name;
    segment seg;
    store st;
};

/// A distinct hex64 routing id per character. Keys live for the whole test run, so put_request's string_views never dangle.
inline std::string const& key(char c)
{
    static std::array<std::string, 256> keys;
    auto& k = keys[static_cast<unsigned char>(c)];
    if (k.empty())
        k = std::string(62, '0') + "0123456789abcdef"[(c >> 4) & 15] + "0123456789abcdef"[c & 15];
    return k;
}

inline std::vector<std::uint8_t> bytes_of(std::size_t n, std::uint8_t seed)
{
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>(seed + i * 31);
    return v;
}

/// `data` must outlive the request (it is viewed, not copied).
inline put_request request(std::string const& recipient, std::vector<std::uint8_t> const& data,
                           std::uint64_t now = 1000)
{
    put_request rq;
    rq.recipient = recipient;
    rq.data = data;
    rq.now = now;
    return rq;
}

/// check_all() as a Boost.Test predicate: a failure prints the problem.
inline boost::test_tools::assertion_result verified(store& st, verify_depth depth = verify_depth::structure)
{
    store_check const checked = st.check_all(depth);
    boost::test_tools::assertion_result result(checked.consistent);
    result.message() << checked.problem;
    return result;
}

} // namespace relay::shm::testing
