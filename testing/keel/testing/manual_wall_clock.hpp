#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "keel/runtime/clock.hpp"

namespace keel::testing {

/// A wall clock that stands still until the test moves it: reminder due times and
/// `ctx.now_ms()` read it. 2026-01-01T00:00:00Z unless told otherwise, so stored due times
/// are the same on every run.
/// Thread safety: thread-safe.
class manual_wall_clock final : public wall_clock {
 public:
  static constexpr int64_t default_start_ms = 1'767'225'600'000;

  explicit manual_wall_clock(int64_t start_ms = default_start_ms) : now_ms_(start_ms) {}

  int64_t now_ms() const override { return now_ms_.load(std::memory_order_relaxed); }

  /// Requires: `by` is not negative (a wall clock may jump back; reminders then wait, and
  /// no test here needs that).
  void advance(std::chrono::milliseconds by) noexcept {
    now_ms_.fetch_add(by.count(), std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace keel::testing
