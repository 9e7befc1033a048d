#pragma once

#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (g) a node joins a one-node cluster holding many counters under load: the time to move
/// half of their state to it, actors moved per second, and requests served during the move
/// vs just before. Starts its own etcd and keel-node children.
void bench_rebalance(const bench_config& cfg, progress& prog, std::vector<result>& out);

}  // namespace keel::bench
