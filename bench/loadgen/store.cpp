// store: C connections pipelining EncryptedUpdates of S bytes with W
// outstanding each, to recipients that are never online (so the relay only
// stores). Measures acked updates/s, ack latency and server CPU per ack.
//
// overhead: a fixed mix of sizes (100 B - 64 KiB, log-uniform, fixed seed)
// stored once; bench/run.py divides the store's bytes in use (from /metrics)
// by the ciphertext bytes acknowledged.

#include <cmath>
#include <random>

#include "bench/loadgen/report.hpp"
#include "bench/loadgen/scenarios.hpp"
#include "bench/loadgen/store_conn.hpp"

namespace bench::loadgen {
namespace {

/// Mailboxes per store connection: spreads blobs as real traffic does instead
/// of growing one mailbox per connection.
constexpr unsigned recipients_per_connection = 16;
/// Connections and window of the overhead scenario: its figure does not
/// depend on the load, so a small pipelined set finishes quickly.
constexpr unsigned overhead_connections = 8;
constexpr unsigned overhead_window = 8;
constexpr std::size_t overhead_min_size = 100;
constexpr std::size_t overhead_max_size = 64 * 1024;

/// Starts the connections, waits for them to open, and returns false if none did.
bool open_senders(runner& r, std::shared_ptr<conn_group> const& group, unsigned count, store_job const& base)
{
    for (unsigned i = 0; i < count; ++i) {
        unsigned const t = i % r.size();
        store_job job = base;
        job.index = i;
        job.recipients = offline_recipients(r, i, recipients_per_connection);
        net::co_spawn(r.context(t), store_connection(r, t, std::move(job), group), net::detached);
    }
    r.wait("connecting", 120, [&] { return group->ready + group->failed >= count; });
    return group->ready > 0;
}

} // namespace

boost::json::object run_store(runner& r)
{
    auto const& o = r.opts();
    auto group = std::make_shared<conn_group>();
    store_job base;
    base.size = o.size;
    base.window = std::max(1u, o.window);
    auto report = header_report(r);
    if (!open_senders(r, group, o.connections, base)) {
        r.stop();
        report["error"] = "no connection could be opened";
        return report;
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
    report["window"] = window_report(w);
    auto samples = r.merged_latency();
    report["latency"] = latency_report(samples, o.cdf_path);
    report["counters"] = counters_report(r);
    return report;
}

boost::json::object run_overhead(runner& r)
{
    auto const& o = r.opts();
    auto plan = std::make_shared<size_plan>();
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> exponent(std::log(double(overhead_min_size)),
                                                    std::log(double(overhead_max_size)));
    for (unsigned i = 0; i < o.count; ++i)
        plan->sizes.push_back(static_cast<std::size_t>(std::exp(exponent(rng))));
    auto group = std::make_shared<conn_group>();
    store_job base;
    base.window = overhead_window;
    base.plan = plan;
    auto report = header_report(r);
    r.set(phase::measure);
    r.begin_window();
    if (!open_senders(r, group, overhead_connections, base)) {
        r.stop();
        report["error"] = "no connection could be opened";
        return report;
    }
    r.wait("storing", 300, [&] { return group->finished >= overhead_connections; });
    window const w = r.end_window();
    r.stop();
    std::uint64_t offered = 0;
    for (auto s : plan->sizes)
        offered += s;
    report["window"] = window_report(w);
    report["counters"] = counters_report(r);
    report["offered_bytes"] = offered;
    report["offered_count"] = plan->sizes.size();
    return report;
}

} // namespace bench::loadgen
