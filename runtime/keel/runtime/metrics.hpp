#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

namespace detail {

/// Metrics are striped: each thread adds to its own cache line, so the counters every turn
/// and call update do not bounce between cores (they sat on a few shared lines, written by
/// the caller's, the callee's and the sweeper's threads). Reads sum the stripes.
inline constexpr size_t metric_stripes = 8;

/// A small number naming the calling thread, handed out round-robin on first use: the
/// stripe of per-thread parts of shared structures (these metrics, the router's pending
/// calls).
inline size_t thread_number() noexcept {
  static std::atomic<size_t> next{0};
  constexpr size_t unset = ~size_t{0};
  thread_local size_t mine = unset;
  if (mine == unset) mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

/// This thread's metric stripe.
inline size_t metric_stripe() noexcept {
  return thread_number() % metric_stripes;
}

/// One value per stripe, each on its own cache line.
template <class T>
class striped {
 public:
  void add(T n) noexcept { cells_[metric_stripe()].value.fetch_add(n, std::memory_order_relaxed); }
  T sum() const noexcept {
    T total = 0;
    for (const auto& c : cells_) total += c.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  struct alignas(64) cell {
    std::atomic<T> value{0};
  };
  std::array<cell, metric_stripes> cells_{};
};

}  // namespace detail

/// A monotonically increasing count. Thread-safe.
class counter {
 public:
  void add(uint64_t n = 1) noexcept { value_.add(n); }
  uint64_t value() const noexcept { return value_.sum(); }

 private:
  detail::striped<uint64_t> value_;
};

/// A value that goes up and down. Thread-safe.
class gauge {
 public:
  void add(int64_t n) noexcept { value_.add(n); }
  int64_t value() const noexcept { return value_.sum(); }

 private:
  detail::striped<int64_t> value_;
};

/// A latency histogram with fixed buckets from 50 µs to 10 s. Thread-safe; observations
/// are lock-free and go to the calling thread's stripe.
class histogram {
 public:
  static constexpr std::array<double, 16> bounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                 0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                 0.5,     1.0,    2.5,     10.0};
  /// One count per bucket (not cumulative), the last one past every bound: +Inf.
  using counts = std::array<uint64_t, bounds.size() + 1>;

  void observe(double seconds) noexcept { observe_in(bucket_of(seconds), seconds); }
  /// The bucket `seconds` falls in: for a caller that observes one value in several
  /// histograms of these bounds, and searches the bounds once.
  static size_t bucket_of(double seconds) noexcept {
    size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    return i;
  }
  /// Requires: `bucket` is bucket_of(seconds).
  void observe_in(size_t bucket, double seconds) noexcept;
  /// As observe_in(), without adding to the sum: for a histogram only read as bucket counts
  /// (bucket_counts()), where the sum's atomic add would be wasted on the turn path.
  void count_in(size_t bucket) noexcept {
    stripes_[detail::metric_stripe()].buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  }
  /// Every bucket's count, summed over the stripes. A snapshot that a concurrent observe
  /// may or may not be in, bucket by bucket: diff two of them for an interval's counts.
  counts bucket_counts() const noexcept;
  /// Appends the `_bucket`, `_sum` and `_count` series with `labels` (may be empty).
  void render(std::string& out, std::string_view name, std::string_view labels) const;
  uint64_t count() const noexcept;

 private:
  struct alignas(64) stripe {
    std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets{};
    std::atomic<uint64_t> sum_micros{0};
  };
  std::array<stripe, detail::metric_stripes> stripes_{};
};

/// The runtime's own metrics, rendered at /metrics with the `keel_` prefix.
/// Thread safety: thread-safe.
struct runtime_metrics {
  counter turn_failures;    // turns answered with an error
  counter commit_batches;   // WriteBatch + sync operations
  counter commit_writes;    // turn commits inside those batches
  counter durable_turns;    // turns whose state or reminder changes were written and synced
  counter calls_timed_out;  // calls failed by the deadline sweep
  counter activations_started;
  counter passivations;
  counter activations_evicted;  // asked to leave early: the node neared --max-activations
  counter activations_refused;  // calls refused: the node was at --max-activations
  counter reminders_fired;
  counter reminder_load_failures;  // start-up chunks of reminders skipped: unreadable
  gauge activations;               // live activations
  gauge reminders;                 // reminders this node schedules (its partitions' reminders)
  gauge calls_pending;             // calls open at the last deadline sweep (every 10 ms)
  gauge store_failed;              // 1 once a write to the data dir failed: no more writes
  histogram commit_seconds;        // one batch: WriteBatch + sync
  histogram turn_seconds;          // one turn, start to reply

  /// Turns run (including failed ones): every turn is observed once in `turn_seconds`.
  uint64_t turns() const noexcept { return turn_seconds.count(); }

  /// Prometheus text exposition of every series above.
  void render(std::string& out) const;
};

/// Appends one `# HELP` / `# TYPE` header.
void render_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);
/// Appends a counter's header and its one unlabelled sample.
void render_counter(std::string& out, std::string_view name, std::string_view help, uint64_t value);
/// Appends a gauge's header and its one unlabelled sample.
void render_gauge(std::string& out, std::string_view name, std::string_view help, int64_t value);
/// Appends a histogram's header and its unlabelled series.
void render_histogram(std::string& out, std::string_view name, std::string_view help,
                      const histogram& h);

}  // namespace keel
