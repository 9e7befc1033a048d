#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

/// A monotonically increasing count. Thread-safe.
class counter {
 public:
  void add(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down. Thread-safe.
class gauge {
 public:
  void add(int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// A latency histogram with fixed buckets from 50 µs to 10 s. Thread-safe; observations
/// are lock-free.
class histogram {
 public:
  static constexpr std::array<double, 16> bounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                 0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                 0.5,     1.0,    2.5,     10.0};
  void observe(double seconds) noexcept;
  /// Appends the `_bucket`, `_sum` and `_count` series with `labels` (may be empty).
  void render(std::string& out, std::string_view name, std::string_view labels) const;
  uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

/// The runtime's own metrics, rendered at /metrics with the `keel_` prefix.
/// Thread safety: thread-safe.
struct runtime_metrics {
  counter turns;            // turns run (including failed ones)
  counter turn_failures;    // turns answered with an error
  counter commit_batches;   // WriteBatch + sync operations
  counter commit_writes;    // turn commits inside those batches
  counter durable_turns;    // turns whose state or reminder changes were written and synced
  counter calls_timed_out;  // calls failed by the deadline sweep
  counter activations_started;
  counter passivations;
  counter reminders_fired;
  gauge activations;         // live activations
  gauge calls_pending;       // calls tracked by the router, not yet answered
  histogram commit_seconds;  // one batch: WriteBatch + sync
  histogram turn_seconds;    // one turn, start to reply

  /// Prometheus text exposition of every series above.
  void render(std::string& out) const;
};

/// Appends one `# HELP` / `# TYPE` header.
void render_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);

}  // namespace keel
