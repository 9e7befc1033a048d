#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace keel {

/// The wall-clock seam: durable times (reminder due times) are wall time, because they must
/// survive restarts. Everything else uses CAF's actor clock. Tests inject a fake.
/// Thread safety: implementations are thread-safe.
class wall_clock {
 public:
  virtual ~wall_clock() = default;
  /// Milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
};

/// The real system clock.
std::shared_ptr<wall_clock> make_system_clock();

/// Cheap clock readings for the per-turn path, where two steady_clock reads (~21 ns each
/// here) were 5 % of a local call. Thread-safe.
namespace fast_clock {

/// steady_clock's time at the kernel tick's resolution (a few ms, never ahead of
/// steady_clock::now()): for deadlines and idleness, which the node checks at 10 ms and
/// seconds granularity anyway. ~3 ns.
std::chrono::steady_clock::time_point coarse_now() noexcept;

/// A tick count for measuring intervals (turn durations): the CPU's invariant time-stamp
/// counter on x86-64 (~9 ns), else steady_clock's nanoseconds.
uint64_t ticks() noexcept;

/// The length of `n` ticks; calibrated against steady_clock once per process (2 ms).
std::chrono::nanoseconds to_duration(uint64_t n) noexcept;

}  // namespace fast_clock

/// The runtime's monotonic time, which idleness, deadlines and the node's sweeps are
/// decided by: fast_clock::coarse_now() plus an offset that only a test moves, so a test
/// can pass an idle timeout or a deadline without waiting for it. Concrete, not virtual:
/// a reading is one relaxed load more than coarse_now(), on the per-turn path too.
/// Thread safety: thread-safe.
class monotonic_clock {
 public:
  std::chrono::steady_clock::time_point now() const noexcept {
    return fast_clock::coarse_now() +
           std::chrono::nanoseconds{offset_ns_.load(std::memory_order_relaxed)};
  }
  /// Moves this clock, and only it, forward by `by`: for tests.
  void advance(std::chrono::nanoseconds by) noexcept {
    offset_ns_.fetch_add(by.count(), std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace keel
