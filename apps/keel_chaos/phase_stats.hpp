#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "call_outcome.hpp"

namespace keel::chaos {

/// What the clients saw during one phase of the run (the warm-up, one fault from its
/// injection to its recovery, the steady time after it, the final sweep). A call belongs
/// to the phase it started in.
/// Thread safety: externally synchronized: each client thread fills its own copy; the main
/// thread merges them once the threads are joined.
struct phase_stats {
  int64_t requests = 0;
  int64_t acked = 0;
  int64_t unknown = 0;  // failed calls whose outcome is unknown
  std::map<std::string, int64_t> failed_by_code;
  std::map<std::string, std::string> first_message;  // by code: the first message seen

  int64_t failed() const { return requests - acked; }
  void add(const call_result& r);
  void merge(const phase_stats& other);
  /// "unavailable:12 timeout:3" or "-".
  std::string codes_text() const;
};

}  // namespace keel::chaos
