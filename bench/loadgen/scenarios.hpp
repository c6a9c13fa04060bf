#pragma once
// The benchmark's scenarios (bench/README.md describes what each measures).
// Each runs to completion within its own deadlines and returns its report.

#include <boost/json/object.hpp>

#include "bench/loadgen/runner.hpp"

namespace bench::loadgen {

boost::json::object run_store(runner& r);
boost::json::object run_deliver(runner& r);
boost::json::object run_connect(runner& r);
boost::json::object run_idle(runner& r);
boost::json::object run_push(runner& r);
boost::json::object run_overhead(runner& r);

} // namespace bench::loadgen
