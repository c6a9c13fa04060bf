// connect: L loops, each repeating connect + WebSocket upgrade + Handshake /
// HandshakeAck + close (a Close handshake, as a client leaving politely does)
// with a fresh client id every time. Measures cycles/s, server CPU per cycle
// and the cycle latency. With --proxy-header 1 or 2 each cycle starts with a
// PROXY v2 header naming a client address of its own loop, as HAProxy writes
// it: in the upgrade request's segment (1) or in one of its own (2).

#include <chrono>
#include <string>

#include "bench/loadgen/client.hpp"
#include "bench/loadgen/frames.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/scenarios.hpp"
#include "bench/loadgen/store_conn.hpp"

namespace bench::loadgen {
namespace {

constexpr std::uint64_t cycler_tag = 4ull << 40;
/// Pause after a failed cycle, so a refusing server is not spun on.
constexpr auto failure_pause = std::chrono::milliseconds(50);

/// The 28-byte PROXY v2 header of a TCP4 connection from 10.0.x.y (the
/// loop's own client address) to 127.0.0.1:443.
std::string proxy_v2_header(std::uint32_t loop)
{
    std::string h("\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c", 16);
    unsigned char const addresses[12] = {
        10,   0,   static_cast<unsigned char>(loop >> 8), static_cast<unsigned char>(loop), 127, 0, 0, 1, 0x12, 0x67,
        0x01, 0xbb};
    h.append(reinterpret_cast<char const*>(addresses), sizeof addresses);
    return h;
}

net::awaitable<void> cycle_loop(runner& r, unsigned t, std::uint32_t loop, std::shared_ptr<conn_group> group)
{
    thread_stats& st = r.stats(t);
    std::string const preamble = r.opts().proxy_header != 0 ? proxy_v2_header(loop) : std::string();
    handshake_frame hs;
    net::steady_timer pause(r.context(t));
    group->ready.fetch_add(1, std::memory_order_relaxed);
    for (std::uint64_t n = 0; r.current() < phase::drain; ++n) {
        ws_stream ws(r.context(t));
        beast::flat_buffer buffer;
        hs.set_client_id(hex64_id(r.salt(), cycler_tag | (std::uint64_t{loop} << 28) | (n & 0xFFFFFFF)));
        std::uint64_t const started = now_ns();
        if (!co_await open_session(ws, buffer, r.endpoint(), "/", hs.bytes(), preamble,
                                   r.opts().proxy_header == 2 ? preamble_segment::own
                                                              : preamble_segment::with_request)) {
            st.errors.fetch_add(1, std::memory_order_relaxed);
            pause.expires_after(failure_pause);
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        co_await close_session(ws);
        st.ops.fetch_add(1, std::memory_order_relaxed);
        r.sample(t, now_ns() - started);
    }
    group->finished.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

boost::json::object run_connect(runner& r)
{
    auto const& o = r.opts();
    auto group = std::make_shared<conn_group>();
    for (unsigned i = 0; i < o.connections; ++i) {
        unsigned const t = i % r.size();
        net::co_spawn(r.context(t), cycle_loop(r, t, i, group), net::detached);
    }
    r.set(phase::warmup);
    r.wait("warm-up", o.warmup);
    r.set(phase::measure);
    r.begin_window();
    r.wait("measure", o.duration);
    window const w = r.end_window();
    r.set(phase::drain);
    r.wait("drain", 15, [&] { return group->finished >= o.connections; });
    r.stop();
    auto report = header_report(r);
    report["window"] = window_report(w);
    auto samples = r.merged_latency();
    report["latency"] = latency_report(samples, o.cdf_path);
    report["counters"] = counters_report(r);
    return report;
}

} // namespace bench::loadgen
