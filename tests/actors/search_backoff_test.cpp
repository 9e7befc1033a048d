#include "keel/rideshare/search_backoff.hpp"

#include <gtest/gtest.h>

namespace keel::rideshare {
namespace {

using namespace std::chrono_literals;

TEST(SearchBackoff, DoublesFromTheFirstDelayUpToTheLongestWithinTwentyPercent) {
  const std::chrono::milliseconds expected[] = {2s, 4s, 8s, 16s, 30s, 30s, 30s};
  for (uint32_t attempt = 0; attempt < 7; ++attempt) {
    auto d = search_retry_delay(attempt, "r-1", 2s, 30s);
    EXPECT_GE(d, expected[attempt] * 80 / 100) << "attempt " << attempt;
    EXPECT_LE(d, expected[attempt] * 120 / 100) << "attempt " << attempt;
  }
  // No overflow however long a search goes on.
  EXPECT_LE(search_retry_delay(4'000'000'000u, "r-1", 2s, 30s), 36s);
}

TEST(SearchBackoff, TheSpreadDependsOnTheRideAndIsTheSameEveryTime) {
  EXPECT_EQ(search_retry_delay(0, "r-1", 2s, 30s), search_retry_delay(0, "r-1", 2s, 30s));
  // A hundred rides requested together spread their retries over most of 1.6-2.4 s.
  std::chrono::milliseconds lo = 1h, hi = 0ms;
  for (int i = 0; i < 100; ++i) {
    auto d = search_retry_delay(0, "r-" + std::to_string(i), 2s, 30s);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, 1600ms);
  EXPECT_LE(hi, 2400ms);
  EXPECT_GE(hi - lo, 700ms);
}

}  // namespace
}  // namespace keel::rideshare
