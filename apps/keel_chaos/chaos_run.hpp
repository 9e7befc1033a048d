#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "chaos_options.hpp"
#include "chaos_report.hpp"
#include "child_process.hpp"
#include "cluster_under_test.hpp"
#include "fault_runner.hpp"
#include "live_targets.hpp"
#include "load_clients.hpp"
#include "progress_log.hpp"

namespace keel::chaos {

/// One keel-chaos run: starts the cluster, puts load on it, injects the planned faults one
/// at a time with a recovery wait after each, then sweeps and reads every key and prints
/// the report and the verdict. Phases: 0 the warm-up, 2i+1 fault i (injection to recovery),
/// 2i+2 the steady load after it, then the sweep and the final read.
/// Thread safety: externally synchronized: constructed and run by the main thread.
class chaos_run {
 public:
  /// Requires: options.work_dir exists.
  chaos_run(const chaos_options& options, child_registry& registry, progress_log& log);

  /// The process exit status: 0 on PASS, 1 on FAIL.
  int run();

 private:
  step_status start_cluster();
  void inject_faults(const std::vector<fault_kind>& plan);
  /// Every 5 s or so: one progress line with the load's totals.
  void tick();
  verdict_counts count_verdict() const;
  void print_report(const verdict_counts& verdict);

  const chaos_options options_;
  progress_log& log_;
  const int fault_phases_;  // 2 per planned fault
  live_targets targets_;
  cluster_under_test cluster_;
  load_clients load_;
  fault_runner runner_;
  std::vector<fault_row> rows_;
  std::chrono::steady_clock::time_point last_tick_;
  int64_t last_requests_ = 0;
  int64_t last_failed_ = 0;
};

}  // namespace keel::chaos
