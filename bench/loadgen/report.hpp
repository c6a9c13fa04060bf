#pragma once
// The pieces of the JSON report the load generator prints on stdout
// (bench/run.py reads it; progress goes to stderr).

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/loadgen/runner.hpp"

namespace bench::loadgen {

/// Scenario, target and parameters.
boost::json::object header_report(runner const& r);
/// Operations, rate, server CPU per operation and generator CPU of a window.
boost::json::object window_report(window const& w);
/// Percentiles of `samples` (sorted in place); writes the CDF if `cdf_path` is set.
boost::json::object latency_report(std::vector<std::uint64_t>& samples, std::string const& cdf_path);
/// The error and notification counters of every thread.
boost::json::object counters_report(runner const& r);

} // namespace bench::loadgen
