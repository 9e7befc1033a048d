#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace keel {

/// One finished turn, for `GET /v1/traces/{traceId}`.
struct turn_record {
  std::string trace;  // 32 hex
  std::string actor;  // type/key
  std::string message;
  std::string caller;
  std::string node;
  int64_t start_ms = 0;  // wall clock, from the clock seam
  int64_t duration_us = 0;
  std::string outcome;  // "ok" or an error code
  uint64_t version_before = 0;
  uint64_t version_after = 0;
};

/// A bounded ring of the node's most recent turns.
/// Thread safety: thread-safe.
class turn_log {
 public:
  explicit turn_log(size_t capacity) : capacity_(capacity) {}
  void add(turn_record record);
  /// Every retained turn of one trace, oldest first.
  std::vector<turn_record> find(const std::string& trace) const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<turn_record> ring_;  // guarded by mutex_
};

}  // namespace keel
