#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/span_id.hpp"
#include "keel/runtime/trace_id.hpp"

namespace keel {

/// One finished turn as a span, waiting for export (`--otlp-endpoint`). Times are
/// fast_clock ticks: the exporter turns them into wall time when it sends the batch, so a
/// turn reads no clock for its span.
struct span_record {
  trace_id trace;
  span_id span;
  span_id parent;  // the sending turn's span; none for a request's first turn
  actor_id actor;
  std::string message;
  std::string caller;
  std::string_view outcome;  // "ok" or an error code's name: static strings
  uint64_t start_ticks = 0;
  uint64_t end_ticks = 0;
  uint64_t version_before = 0;
  uint64_t version_after = 0;
};

/// The spans of finished turns between two exports: bounded, and a turn never waits for
/// the exporter. Turns fill one batch while the exporter sends the previous one; the two
/// swap in take(). A full batch drops further spans and counts them, so a slow or dead
/// collector costs memory of two batches at most and never delays a turn.
/// Slots keep their strings' buffers from batch to batch: a span costs no allocation once
/// the buffers have grown.
/// Thread safety: thread-safe; add() from any turn, take() from one exporter thread.
class span_buffer {
 public:
  /// Requires: capacity > 0.
  explicit span_buffer(size_t capacity) : capacity_(capacity), filling_(capacity) {}

  /// Adds one span: `fill(record)` assigns every field of a slot that may hold an older
  /// span's values, under the buffer's lock; or drops it when the batch is full.
  template <class Fill>
  void add(Fill&& fill) {
    std::lock_guard guard{mutex_};
    if (filled_ == capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    fill(filling_[filled_++]);
  }

  /// Swaps the batch being filled with `batch` (the last batch taken, or an empty
  /// vector): `batch` then holds the spans added since the last take, in its first slots,
  /// and the count is returned. The lock is held for the swap only.
  size_t take(std::vector<span_record>& batch) {
    batch.resize(capacity_);
    std::lock_guard guard{mutex_};
    std::swap(batch, filling_);
    return std::exchange(filled_, 0);
  }

  size_t capacity() const noexcept { return capacity_; }
  /// Spans dropped because the batch was full.
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::vector<span_record> filling_;  // guarded by mutex_, as is filled_; capacity_ slots
  size_t filled_ = 0;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace keel
