#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "call_stats.hpp"
#include "invariants.hpp"
#include "ride_record.hpp"

namespace keel::sim {

/// Everything rideshare-sim prints at the end of a run.
/// A plain value, filled by main after the workers have joined.
struct run_summary {
  double elapsed_s = 0;  // the load phase only
  int64_t rides_finished = 0;
  std::map<ride_path, int64_t> paths;
  call_stats stats;  // every worker's, merged
  // Deltas of keel-node's counters across the load phase and the settling of its payments,
  // per finished ride; nullopt when /metrics could not be read.
  std::optional<double> durable_turns_per_ride;
  std::optional<double> turns_per_ride;
  std::vector<check_result> checks;
  check_coverage coverage;  // empty when the payments were not checked

  double rides_per_second() const { return elapsed_s > 0 ? rides_finished / elapsed_s : 0; }
  bool pass() const;
};

/// The human table on stdout.
void print_table(const run_summary& summary);
/// One JSON object on stdout, nothing else.
void print_json(const run_summary& summary);

}  // namespace keel::sim
