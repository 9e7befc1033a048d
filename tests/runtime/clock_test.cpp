#include "keel/runtime/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace keel {
namespace {

using namespace std::chrono_literals;

TEST(FastClock, TicksMeasureWhatSteadyClockMeasures) {
  auto t0 = fast_clock::ticks();
  auto s0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(50ms);
  auto t1 = fast_clock::ticks();
  auto s1 = std::chrono::steady_clock::now();
  auto measured = fast_clock::to_duration(t1 - t0);
  auto reference = s1 - s0;
  // Calibrated once against steady_clock: the two agree far better than 5 % over 50 ms
  // (the bound leaves room for a preempted read on a busy machine).
  EXPECT_GT(measured, reference * 95 / 100);
  EXPECT_LT(measured, reference * 105 / 100);
}

TEST(FastClock, CoarseNowNeverRunsAheadAndLagsByLessThanATick) {
  for (int i = 0; i < 100; ++i) {
    auto coarse = fast_clock::coarse_now();
    auto precise = std::chrono::steady_clock::now();
    EXPECT_LE(coarse, precise);
    EXPECT_LT(precise - coarse, 20ms);  // a kernel tick is 1-10 ms
  }
}

}  // namespace
}  // namespace keel
