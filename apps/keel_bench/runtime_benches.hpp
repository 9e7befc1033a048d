#pragma once

#include <string>
#include <vector>

#include "bench_report.hpp"

namespace keel::bench {

struct bench_config {
  bool quick = false;
  int rounds = 3;         // measured rounds per contender; the median is reported
  std::string self_path;  // this executable, for child processes
  std::string bin_dir;    // where keel-node and bare-http-server live
};

/// (a) request/response to a virtual counter (Get) vs raw CAF, at 1 and 100 in flight.
void bench_local_calls(const bench_config& cfg, progress& prog, std::vector<result>& out);
/// (b) durable turns (every turn writes) vs raw LevelDB sync writes, same writer count.
void bench_durable_turns(const bench_config& cfg, progress& prog, std::vector<result>& out);
/// (c) RSS per idle activation vs per bare CAF actor, each measured in a fresh child.
void bench_memory(const bench_config& cfg, progress& prog, std::vector<result>& out);
/// (e) a local call passes the protobuf object itself: serializations counted, and the
/// cost of a forced serialize/parse round trip for comparison.
void bench_local_protobuf(const bench_config& cfg, progress& prog, std::vector<result>& out);

/// The child side of bench_memory: `kind` is "keel" or "caf"; prints "<bytes per actor>".
int memory_child(const std::string& kind, int count);

}  // namespace keel::bench
