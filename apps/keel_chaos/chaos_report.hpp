#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster_under_test.hpp"
#include "fault_runner.hpp"
#include "load_clients.hpp"
#include "phase_stats.hpp"

namespace keel::chaos {

/// One row of the per-fault table: a fault with the calls made while it ran (from its
/// injection to its recovery) and in the steady time after it.
struct fault_row {
  int number = 0;
  fault_record fault;
  phase_stats during;
  phase_stats after;
};

/// The counts the verdict is made of.
struct verdict_counts {
  int keys = 0;
  int64_t acked = 0;
  int64_t lost = 0;
  int64_t applied_though_failed = 0;
  int64_t backwards = 0;
  int64_t stuck_keys = 0;
  int64_t failed_during_no_fail_ops = 0;
  int64_t crashes = 0;
  int64_t unrecovered = 0;  // faults whose recovery did not come within --recovery-limit
  int64_t problems = 0;     // other steps that did not go as documented (a failed drain)
  bool tolerate_no_fail_op_failures = false;

  bool pass() const;
  /// The single verdict line: "verdict: PASS keys=300 acked=... crashes=0 ...".
  std::string line() const;
};

/// The per-fault table, with the warm-up first and the sweep and final read last; then
/// each fault's problems and the first message of each failure code.
std::string render_fault_table(const phase_stats& warmup, const std::vector<fault_row>& rows,
                               const phase_stats& sweep, const phase_stats& read);
/// "keys refusing writes after recovery": one line per stuck key, or "none".
std::string render_stuck_keys(const std::vector<stuck_key>& stuck);
/// The crashes with their log tails, or "none".
std::string render_crashes(const std::vector<crash_record>& crashes);

}  // namespace keel::chaos
