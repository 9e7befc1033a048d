#include "keel/runtime/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace keel {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

// A tick reading taken between two steady_clock readings: the tick happened inside that
// bracket, however long a preemption between the reads lasted.
struct bracketed_ticks {
  steady_clock::time_point before;
  uint64_t ticks;
  steady_clock::time_point after;
};

bracketed_ticks read_bracketed() {
  bracketed_ticks r;
  r.before = steady_clock::now();
  r.ticks = fast_clock::ticks();
  r.after = steady_clock::now();
  return r;
}

TEST(FastClock, TicksMeasureWhatSteadyClockMeasures) {
  auto start = read_bracketed();
  // Spins instead of sleeping: the interval is whatever steady_clock says passed.
  while (steady_clock::now() - start.after < 50ms) {
  }
  auto end = read_bracketed();
  auto measured = fast_clock::to_duration(end.ticks - start.ticks);
  // The ticks' interval lies between the brackets' inner and outer spans; the calibration
  // against steady_clock keeps the conversion well within 5 % of either.
  auto shortest = end.before - start.after;
  auto longest = end.after - start.before;
  EXPECT_GE(measured, shortest * 95 / 100) << "shortest span " << shortest.count() << " ns";
  EXPECT_LE(measured, longest * 105 / 100) << "longest span " << longest.count() << " ns";
}

TEST(FastClock, TicksNeverGoBackAndZeroTicksLastNothing) {
  auto previous = fast_clock::ticks();
  for (int i = 0; i < 1000; ++i) {
    auto now = fast_clock::ticks();
    ASSERT_GE(now, previous) << "reading " << i;
    previous = now;
  }
  EXPECT_EQ(fast_clock::to_duration(0), 0ns);
}

TEST(FastClock, CoarseNowNeverRunsAheadAndLagsByLessThanATick) {
  for (int i = 0; i < 100; ++i) {
    auto before = steady_clock::now();
    auto coarse = fast_clock::coarse_now();
    auto after = steady_clock::now();
    // Never ahead of the precise clock at the moment it was read (no later than `after`),
    // and behind it by less than one kernel tick (1-10 ms): so no earlier than a tick
    // before `before`, however long the reads were preempted.
    EXPECT_LE(coarse, after) << "reading " << i;
    EXPECT_GT(coarse, before - 20ms) << "reading " << i;
  }
}

}  // namespace
}  // namespace keel
