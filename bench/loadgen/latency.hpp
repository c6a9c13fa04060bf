#pragma once
// Latency samples (nanoseconds) to percentiles and a CDF file for the plots.

#include <cstdint>
#include <string>
#include <vector>

namespace bench::loadgen {

struct latency_summary {
    std::uint64_t count = 0;
    double mean_us = 0;
    double p50_us = 0;
    double p90_us = 0;
    double p99_us = 0;
    double p999_us = 0;
    double max_us = 0;
};

/// Sorts `samples` in place and summarises them.
latency_summary summarize(std::vector<std::uint64_t>& samples);

/// Writes "quantile,latency_us" lines for a sorted sample set: every 0.1 %
/// and then the tail up to 99.99 % and the maximum, enough for a smooth CDF.
bool write_cdf(std::vector<std::uint64_t> const& sorted, std::string const& path);

} // namespace bench::loadgen
