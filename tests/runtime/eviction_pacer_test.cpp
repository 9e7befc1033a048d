#include "keel/runtime/detail/eviction_pacer.hpp"

#include <gtest/gtest.h>

namespace keel::detail {
namespace {

using namespace std::chrono_literals;

const steady_time start{std::chrono::seconds{1000}};

TEST(EvictionPacer, BelowTheHighWaterMarkNothingIsEvicted) {
  eviction_pacer pacer{1000, 100ms};
  EXPECT_EQ(pacer.high_water(), 900u);
  EXPECT_EQ(pacer.low_water(), 800u);
  EXPECT_EQ(pacer.due(0, start), 0u);
  EXPECT_EQ(pacer.due(900, start), 0u);
}

TEST(EvictionPacer, AboveItEvictsDownToTheLowWaterMarkOncePerPeriod) {
  eviction_pacer pacer{1000, 100ms};
  EXPECT_EQ(pacer.due(901, start), 101u);
  // The round's activations may still be leaving: no second round within the period.
  EXPECT_EQ(pacer.due(950, start + 99ms), 0u);
  EXPECT_EQ(pacer.due(950, start + 100ms), 150u);
  EXPECT_EQ(pacer.due(1000, start + 200ms), 200u);
  // Relieved: nothing more, however soon.
  EXPECT_EQ(pacer.due(850, start + 300ms), 0u);
}

TEST(EvictionPacer, ASmallLimitStillLeavesRoom) {
  eviction_pacer pacer{10, 100ms};
  EXPECT_EQ(pacer.high_water(), 9u);
  EXPECT_EQ(pacer.low_water(), 8u);
  EXPECT_EQ(pacer.due(10, start), 2u);
}

}  // namespace
}  // namespace keel::detail
