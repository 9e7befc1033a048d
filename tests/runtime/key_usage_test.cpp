#include <chrono>
#include <limits>

#include <gtest/gtest.h>

#include "keel/runtime/http/key_usage.hpp"
#include "keel/runtime/http/rate_limit.hpp"

namespace keel::http {
namespace {

using namespace std::chrono_literals;

TEST(KeyUsage, EmptyBucketNamesTheWholeSecondsUntilItsNextToken) {
  key_usage usage;
  auto& bucket = usage.of("k");
  const rate_limit half_per_second{0.5, 1};
  steady_time now{};
  EXPECT_EQ(bucket.take(half_per_second, now), std::nullopt);
  EXPECT_EQ(bucket.take(half_per_second, now), 2);
  EXPECT_EQ(bucket.take(half_per_second, now + 1s), 1);
  EXPECT_EQ(bucket.take(half_per_second, now + 2s), std::nullopt);
}

// fuzz_http_request's rate_tiny input: a RATE of 1e-300 made the wait 1e300 s, and its
// conversion to int was undefined (UBSan: float-cast-overflow); GCC's x86 build answered
// "retry in one second" to a key that should wait forever.
TEST(KeyUsage, WaitOfARateTooSlowForAnIntSaturatesInsteadOfOverflowing) {
  key_usage usage;
  auto& bucket = usage.of("k");
  const rate_limit glacial{1e-300, 1};
  steady_time now{};
  EXPECT_EQ(bucket.take(glacial, now), std::nullopt);
  EXPECT_EQ(bucket.take(glacial, now), std::numeric_limits<int>::max());
  EXPECT_EQ(seconds_until_token(0.5, 1e-300), std::numeric_limits<int>::max());
  EXPECT_EQ(seconds_until_token(0.999, 1000), 1);
}

}  // namespace
}  // namespace keel::http
