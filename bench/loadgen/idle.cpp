// idle: C handshaken connections that then stay silent. The server's memory
// is sampled before the first connect and again --settle seconds after the
// last handshake; the difference divided by C is its memory per idle
// connection. Pss sums the shared store once (bench/README.md, "Memory").

#include "bench/loadgen/client.hpp"
#include "bench/loadgen/frames.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/scenarios.hpp"
#include "bench/loadgen/store_conn.hpp"

namespace bench::loadgen {
namespace {

constexpr std::uint64_t idler_tag = 5ull << 40;
/// Connections being opened at once: fast, without a SYN flood the backlog drops.
constexpr unsigned parallel_opens = 128;

struct idle_conn {
    explicit idle_conn(net::io_context& ioc) : ws(ioc) {}
    ws_stream ws;
    beast::flat_buffer buffer;
};

using holder = std::vector<std::unique_ptr<idle_conn>>;

net::awaitable<void> opener(runner& r, unsigned t, unsigned first, unsigned step, unsigned total, holder& held,
                            std::shared_ptr<conn_group> group)
{
    handshake_frame hs;
    for (unsigned i = first; i < total && r.current() < phase::drain; i += step) {
        auto c = std::make_unique<idle_conn>(r.context(t));
        hs.set_client_id(hex64_id(r.salt(), idler_tag | i));
        if (co_await open_session(c->ws, c->buffer, r.endpoint(), "/", hs.bytes())) {
            held.push_back(std::move(c));
            group->ready.fetch_add(1, std::memory_order_relaxed);
            r.stats(t).ops.fetch_add(1, std::memory_order_relaxed); // progress shows connections opened
        } else {
            r.stats(t).errors.fetch_add(1, std::memory_order_relaxed);
            group->failed.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

boost::json::object memory_report(memory_sample const& m)
{
    return {{"rss", m.rss},
            {"pss", m.pss},
            {"private", m.private_bytes},
            {"anonymous", m.anonymous},
            {"processes", m.processes}};
}

} // namespace

boost::json::object run_idle(runner& r)
{
    auto const& o = r.opts();
    auto report = header_report(r);
    memory_sample const before = tree_memory(o.server_pid);
    std::vector<holder> held(r.size());
    auto group = std::make_shared<conn_group>();
    unsigned const openers = std::min(parallel_opens, std::max(1u, o.connections));
    r.set(phase::measure);
    r.begin_window();
    for (unsigned k = 0; k < openers; ++k) {
        unsigned const t = k % r.size();
        net::co_spawn(r.context(t), opener(r, t, k, openers, o.connections, held[t], group), net::detached);
    }
    r.wait("connecting", 600, [&] { return group->ready + group->failed >= o.connections; });
    window const w = r.end_window(); // ops: connections opened, so CPU per op is per connect + handshake
    r.set(phase::warmup);
    r.wait("settling", o.settle);
    memory_sample const after = tree_memory(o.server_pid);
    unsigned const open = group->ready;
    r.set(phase::drain);
    r.run_on_all([&](unsigned t) { held[t].clear(); }); // closes every socket on its own thread
    r.stop();
    auto const per = [&](std::uint64_t a, std::uint64_t b) {
        return open > 0 ? (static_cast<double>(b) - static_cast<double>(a)) / open : 0.0;
    };
    report["window"] = window_report(w);
    report["open_connections"] = open;
    report["memory_before"] = memory_report(before);
    report["memory_after"] = memory_report(after);
    report["per_connection"] = {{"pss", per(before.pss, after.pss)},
                                {"private", per(before.private_bytes, after.private_bytes)},
                                {"anonymous", per(before.anonymous, after.anonymous)},
                                {"rss", per(before.rss, after.rss)}};
    report["counters"] = counters_report(r);
    return report;
}

} // namespace bench::loadgen
