#include "bench/loadgen/latency.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace bench::loadgen {
namespace {

double at_quantile(std::vector<std::uint64_t> const& sorted, double q)
{
    // Nearest rank: the smallest sample with at least q of the samples at or below it.
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

} // namespace

latency_summary summarize(std::vector<std::uint64_t>& samples)
{
    latency_summary s;
    if (samples.empty())
        return s;
    std::sort(samples.begin(), samples.end());
    s.count = samples.size();
    long double const sum = std::accumulate(samples.begin(), samples.end(), 0.0L);
    s.mean_us = static_cast<double>(sum / static_cast<long double>(samples.size())) / 1000.0;
    s.p50_us = at_quantile(samples, 0.50);
    s.p90_us = at_quantile(samples, 0.90);
    s.p99_us = at_quantile(samples, 0.99);
    s.p999_us = at_quantile(samples, 0.999);
    s.max_us = static_cast<double>(samples.back()) / 1000.0;
    return s;
}

bool write_cdf(std::vector<std::uint64_t> const& sorted, std::string const& path)
{
    if (sorted.empty())
        return false;
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (out == nullptr)
        return false;
    std::fprintf(out, "quantile,latency_us\n");
    for (int i = 1; i < 1000; ++i)
        std::fprintf(out, "%.4f,%.3f\n", i / 1000.0, at_quantile(sorted, i / 1000.0));
    for (double q : {0.9991, 0.9993, 0.9995, 0.9997, 0.9999})
        std::fprintf(out, "%.4f,%.3f\n", q, at_quantile(sorted, q));
    std::fprintf(out, "1.0000,%.3f\n", static_cast<double>(sorted.back()) / 1000.0);
    return std::fclose(out) == 0;
}

} // namespace bench::loadgen
