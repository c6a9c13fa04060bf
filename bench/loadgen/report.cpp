#include "bench/loadgen/report.hpp"

#include "bench/loadgen/latency.hpp"

namespace bench::loadgen {

boost::json::object header_report(runner const& r)
{
    auto const& o = r.opts();
    boost::json::object params{
        {"threads", r.size()}, {"connections", o.connections}, {"size", o.size},     {"window", o.window},
        {"blobs", o.blobs},    {"duration", o.duration},       {"warmup", o.warmup}, {"rate", o.rate},
        {"count", o.count}};
    return {{"scenario", o.scenario}, {"target", o.target}, {"params", std::move(params)}};
}

boost::json::object window_report(window const& w)
{
    double const ops = static_cast<double>(w.ops);
    return {{"wall_s", w.wall_s},
            {"ops", w.ops},
            {"ops_per_s", w.wall_s > 0 ? ops / w.wall_s : 0.0},
            {"server_cpu_s", w.server_cpu_s},
            {"server_cpu_us_per_op", w.ops > 0 ? 1e6 * w.server_cpu_s / ops : 0.0},
            {"server_cpu_pct", w.wall_s > 0 ? 100 * w.server_cpu_s / w.wall_s : 0.0},
            {"server_processes", w.server_processes},
            {"generator_cpu_s", w.generator_cpu_s},
            {"generator_cpu_pct", w.wall_s > 0 ? 100 * w.generator_cpu_s / w.wall_s : 0.0}};
}

boost::json::object latency_report(std::vector<std::uint64_t>& samples, std::string const& cdf_path)
{
    auto const s = summarize(samples);
    if (!cdf_path.empty())
        write_cdf(samples, cdf_path);
    return {{"count", s.count},   {"mean_us", s.mean_us}, {"p50_us", s.p50_us}, {"p90_us", s.p90_us},
            {"p99_us", s.p99_us}, {"p999_us", s.p999_us}, {"max_us", s.max_us}};
}

boost::json::object counters_report(runner const& r)
{
    return {{"sent", r.total(&thread_stats::sent)},
            {"failed_acks", r.total(&thread_stats::failed)},
            {"connection_errors", r.total(&thread_stats::errors)},
            {"dropped_offered", r.total(&thread_stats::dropped)},
            {"delivered_acks", r.total(&thread_stats::delivered_acks)},
            {"receipts", r.total(&thread_stats::receipts)},
            {"stored_bytes", r.total(&thread_stats::stored_bytes)}};
}

} // namespace bench::loadgen
