#pragma once

#include <algorithm>
#include <cstdint>
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

/// Puts one trace's turns, gathered from any nodes, in the order they ran: by start time,
/// and within one millisecond (the clocks' grain) an asking turn before the turns it asked,
/// as far as callers name them (a turn whose `caller` is another turn's actor comes after
/// it), so a relay's turn and the turn it asks in the same millisecond read in that order.
void order_by_start(std::vector<turn_row>& rows);

/// A bounded ring of the node's most recent turns. A full ring overwrites its oldest record in
/// place, so the record's strings keep their buffers: a turn logs without allocating (a
/// deque of records freed and allocated ~4 strings per turn, ~130 k turns/s under load).
/// Thread safety: thread-safe.
class turn_log {
 public:
  explicit turn_log(size_t capacity) : ring_(std::max<size_t>(capacity, 1)) {}

  /// Records one turn: `fill(record)` assigns every field of the slot it is given (which
  /// holds an older turn's values), under the log's lock.
  template <class Fill>
  void add(Fill&& fill) {
    std::lock_guard guard{mutex_};
    fill(ring_[next_]);
    next_ = (next_ + 1) % ring_.size();
    if (size_ < ring_.size()) ++size_;
  }

  /// Every retained turn of one trace, oldest first, as rows of node `node`.
  std::vector<turn_row> rows(const trace_id& trace, const std::string& node) const;

 private:
  mutable std::mutex mutex_;
  std::vector<turn_record> ring_;  // guarded by mutex_, as are the two below
  size_t next_ = 0;                // the slot the next turn goes to
  size_t size_ = 0;                // slots holding a turn
};

}  // namespace keel
