// The ring of recent slow and failed requests the dashboard lists: what it keeps, in which
// order, and that it keeps no more than its capacity.
#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "keel/runtime/http/recent_requests.hpp"

namespace keel::http {
namespace {

using namespace std::chrono_literals;

class fixed_wall : public wall_clock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = 1'800'000'000'000;
};

class RecentRequests : public ::testing::Test {
 protected:
  void answer(const std::string& hex, int status, std::chrono::microseconds took) {
    auto trace = *trace_id::from_hex(hex);
    recent_.record({trace, "POST", "/v1/actors/{type}/{key}/{message}", "/v1/actors/relay/r1/Relay",
                    status, took});
  }
  static std::string hex(int n) {
    auto digits = std::to_string(n);
    return std::string(32 - digits.size(), '0') + digits;
  }

  std::shared_ptr<fixed_wall> wall_ = std::make_shared<fixed_wall>();
  recent_requests recent_{{100ms, 3, wall_}};
};

TEST_F(RecentRequests, KeepsTheSlowAndTheFailedNewestFirstAndNothingElse) {
  answer(hex(1), 200, 99'999us);   // just under the threshold: not slow
  answer(hex(2), 200, 100'000us);  // at it: slow
  answer(hex(3), 409, 5'000us);    // a 4xx is the client's: not failed
  wall_->now += 7;
  answer(hex(4), 504, 150'500us);  // both
  answer(hex(5), 503, 1'000us);    // failed
  auto v = recent_.view("n1");
  EXPECT_EQ(v.node_id(), "n1");
  EXPECT_EQ(v.slow_ms(), 100u);
  EXPECT_EQ(v.capacity(), 3u);
  ASSERT_EQ(v.slow_size(), 2);
  EXPECT_EQ(v.slow(0).trace_id(), hex(4));
  EXPECT_EQ(v.slow(0).status(), 504u);
  EXPECT_DOUBLE_EQ(v.slow(0).duration_ms(), 150.5);
  EXPECT_EQ(v.slow(0).time_ms(), wall_->now);
  EXPECT_EQ(v.slow(1).trace_id(), hex(2));
  EXPECT_EQ(v.slow(1).time_ms(), wall_->now - 7);
  EXPECT_EQ(v.slow(1).route(), "/v1/actors/{type}/{key}/{message}");
  EXPECT_EQ(v.slow(1).path(), "/v1/actors/relay/r1/Relay");
  EXPECT_EQ(v.slow(1).method(), "POST");
  ASSERT_EQ(v.failed_size(), 2);
  EXPECT_EQ(v.failed(0).trace_id(), hex(5));
  EXPECT_EQ(v.failed(1).trace_id(), hex(4));
}

TEST_F(RecentRequests, KeepsOnlyItsCapacityOfEachTheOldestGoFirst) {
  for (int i = 1; i <= 5; ++i) answer(hex(i), 500, 1us);
  auto v = recent_.view("n1");
  ASSERT_EQ(v.failed_size(), 3);
  EXPECT_EQ(v.failed(0).trace_id(), hex(5));
  EXPECT_EQ(v.failed(2).trace_id(), hex(3));
  EXPECT_EQ(v.slow_size(), 0);
}

}  // namespace
}  // namespace keel::http
