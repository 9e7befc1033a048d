#pragma once

#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (d) wrk on loopback: keel-node /healthz vs the bare server on the same HTTP library, and
/// durable counter Increments over many keys vs /healthz; p50/p99 for each.
void bench_http(const bench_config& cfg, progress& prog, std::vector<result>& out);

}  // namespace keel::bench
