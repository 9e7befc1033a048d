#pragma once

#include <string>
#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (f) a call from this process (a real cluster member) to a counter owned by a keel-node
/// child, vs raw CAF request/response over the middleman and raw TCP ping-pong, each to a
/// child process, at 1 and 100 in flight. Starts its own etcd.
void bench_cross_node(const bench_config& cfg, progress& prog, std::vector<result>& out);

/// The child side of (f): "caf-echo" (a published CAF actor answering uint64_t) or
/// "tcp-echo" (echoes 100-byte messages); prints a `listening` line, runs until SIGTERM.
int cluster_child(const std::string& kind);

}  // namespace keel::bench
