// The presence table can never be full while the relay admits at most
// RELAY_MAX_CONNECTIONS connections (docs/store.md, "Presence"), even when
// every routing id online falls in one shard: the table is one for the whole
// store and sized from the limit.

#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <string>

#include "common/config.hpp"
#include "shm/presence_table.hpp"
#include "shm/segment.hpp"
#include "shm/shard.hpp"
#include "shm/store.hpp"
#include "supervisor/store_bootstrap.hpp"

using namespace relay;

BOOST_AUTO_TEST_SUITE(presence_sizing)

BOOST_AUTO_TEST_CASE(the_table_holds_every_connection_the_limit_admits_plus_one_per_worker)
{
    for (std::uint64_t limit : {1ull, 16ull, 100ull, 1000ull, 20000ull, 100000ull}) {
        std::uint32_t const capacity = supervisor::presence_capacity_for(limit);
        BOOST_TEST(shm::presence_table::usable(capacity) >= limit + shm::max_worker_slots);
        BOOST_TEST(capacity <= 4 * (limit + shm::max_worker_slots) + 64); // and not wastefully more
    }
}

BOOST_AUTO_TEST_CASE(routing_ids_that_all_fall_in_one_shard_are_all_registered)
{
    config cfg;
    cfg.max_connections = 500;
    cfg.shards = 32;
    cfg.max_storage_bytes = 4u << 20;
    shm::geometry g = supervisor::geometry_for(cfg);
    g.rate_table_entries = 1024;
    std::string const name = "/vauchi-relay-presence-" + std::to_string(::getpid());
    shm::segment seg = shm::segment::create_memory(name, g);
    shm::store st(seg.base());
    st.reinit_locks();
    // Ids chosen (knowing the store's secret seed, which a client cannot)
    // so that every one lands in shard 0: a per-shard table would overflow.
    std::vector<std::string> ids;
    for (std::uint64_t n = 0; ids.size() < cfg.max_connections + shm::max_worker_slots; ++n) {
        char buf[65];
        std::snprintf(buf, sizeof buf, "%064llx", static_cast<unsigned long long>(n));
        if (st.shard_of(buf) == 0)
            ids.emplace_back(buf);
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        BOOST_TEST_REQUIRE(st.attach(ids[i], static_cast<std::uint32_t>(i % 4)).registered);
    BOOST_TEST(st.check_all().consistent, st.check_all().problem);
    for (std::size_t i = 0; i < ids.size(); ++i)
        st.detach(ids[i], static_cast<std::uint32_t>(i % 4));
    BOOST_TEST(st.check_all().consistent, st.check_all().problem);
    shm::segment::remove_memory(name);
}

BOOST_AUTO_TEST_SUITE_END()
