#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

/// One finished turn, for `GET /v1/traces/{traceId}`.
struct turn_record {
  trace_id trace;  // kept binary: formatting is paid only when someone asks
  actor_id actor;
  std::string message;
  std::string caller;
  int64_t start_ms = 0;  // wall clock, from the clock seam
  int64_t duration_us = 0;
  std::string outcome;  // "ok" or an error code
  uint64_t version_before = 0;
  uint64_t version_after = 0;
};

/// One turn as `GET /v1/traces/{traceId}` shows it: formatted, with the node that ran it.
/// Also what nodes send each other when a trace is gathered across a cluster.
struct turn_row {
  std::string node;
  std::string actor;  // type/key
  std::string message;
  std::string caller;
  int64_t start_ms = 0;
  int64_t duration_us = 0;
  std::string outcome;
  uint64_t version_before = 0;
  uint64_t version_after = 0;
};

/// A bounded ring of the node's most recent turns.
/// Thread safety: thread-safe.
class turn_log {
 public:
  explicit turn_log(size_t capacity) : capacity_(capacity) {}
  void add(turn_record record);
  /// Every retained turn of one trace, oldest first, as rows of node `node`.
  std::vector<turn_row> rows(const trace_id& trace, const std::string& node) const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<turn_record> ring_;  // guarded by mutex_
};

}  // namespace keel
