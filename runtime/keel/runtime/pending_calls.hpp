#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keel/runtime/envelope.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

/// Every call on this node that still expects an answer, so that one node-wide sweep can
/// fail those past their deadline with `timeout` (a CAF timeout per call cost a timer-thread
/// round trip each; CAF_NOTES.md §7). Entries are weak: an answered call's envelope is freed
/// at once, not kept until the next sweep.
/// Thread safety: thread-safe. track() runs on the calling thread (HTTP I/O threads,
/// scheduler workers) and takes only that thread's shard lock; sweep() runs on the deadline
/// sweeper's thread.
class pending_calls {
 public:
  /// Requires: `metrics` outlives the table.
  explicit pending_calls(runtime_metrics& metrics) : metrics_(metrics) {}

  /// Enters a call that expects an answer (env->reply is set).
  void track(const envelope_ptr& env);

  /// A request from HTTP open longer than the slow-request threshold, as the sweep saw it.
  struct slow_call {
    trace_id trace;
    std::string message;
    std::string chain;  // what it waits on: "ride/r1 -> cell/1:2"
    std::chrono::milliseconds open;
  };

  /// Fails every tracked call past its deadline with `timeout` (`unavailable` if it was
  /// held while its partition moved) and forgets answered ones; adds to `slow` each call
  /// from HTTP open for `slow_after` or more, once per call. Sets the `calls_pending` gauge
  /// to what it saw open. Returns how many timed out.
  size_t sweep(steady_time now, std::chrono::milliseconds slow_after = {},
               std::vector<slow_call>* slow = nullptr);

 private:
  // Answered entries are pruned when a call is tracked and the list has doubled since.
  struct shard {
    static constexpr size_t min_prune = 16;
    std::mutex mutex;
    std::vector<std::weak_ptr<const envelope>> calls;  // guarded by mutex
    size_t prune_at = min_prune;                       // guarded by mutex
  };

  runtime_metrics& metrics_;
  std::array<shard, 16> shards_;
  std::atomic<size_t> open_at_last_sweep_{0};  // what `calls_pending` last reported
};

}  // namespace keel
