#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fault_kind.hpp"

namespace keel::chaos {

/// keel-chaos's command line. The defaults make a run of about 2-3 minutes with each fault
/// kind once; --short makes one of under a minute for `make test`.
struct chaos_options {
  uint64_t seed = 1;
  int nodes = 3;
  int replication_factor = 1;  // the nodes' --replication-factor
  int clients = 8;
  int keys = 300;
  std::vector<fault_kind> faults = all_faults();
  int fault_count = 10;
  std::chrono::seconds duration_limit{240};  // no fault starts after this
  std::string bin_dir;                       // default: the directory keel-chaos runs from
  std::string work_dir;                      // default: a fresh /tmp/keel-chaos-XXXXXX
  bool keep = false;                         // keep the work dir after a PASS too
  std::chrono::milliseconds warmup{5000};
  std::chrono::milliseconds steady{8000};  // load on the recovered cluster after each fault
  std::chrono::milliseconds request_timeout{3000};  // the nodes' --request-timeout
  std::chrono::seconds recovery_limit{45};
  bool tolerate_no_fail_op_failures = false;
};

/// Parses the command line into `out`. Returns nullopt to go on, or the exit status to
/// leave with at once (0 after --help, 2 after a bad flag, with the message printed).
std::optional<int> parse_chaos_options(int argc, char** argv, chaos_options& out);

}  // namespace keel::chaos
