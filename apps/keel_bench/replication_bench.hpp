#pragma once

#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (j) replication: durable increments through both nodes of a 2-node cluster with
/// --replication-factor=2 against the same with 1 (throughput, p50 and p99 latency), and
/// failover: how long a SIGKILLed owner's partition takes to answer again from its replica
/// on a 3-node cluster (p50, p99 and max over 20 kills; 5 with --quick). Starts its own
/// etcd and keel-node children.
void bench_replication(const bench_config& cfg, progress& prog, std::vector<result>& out);

}  // namespace keel::bench
