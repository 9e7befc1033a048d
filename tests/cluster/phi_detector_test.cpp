#include "keel/cluster/phi_detector.hpp"

#include <gtest/gtest.h>

namespace keel::cluster {
namespace {

using namespace std::chrono_literals;
using clock = phi_detector::clock;

TEST(PhiDetector, SilentUntilItHasIntervals) {
  phi_detector d;
  auto t = clock::now();
  EXPECT_EQ(d.phi(t + 10s), 0);
  d.heartbeat(t);
  EXPECT_EQ(d.phi(t + 10s), 0);
}

TEST(PhiDetector, SteadyHeartbeatsAreNotSuspectedButALongSilenceIs) {
  phi_detector d;
  auto t = clock::now();
  for (int i = 0; i < 50; ++i, t += 200ms) d.heartbeat(t);
  auto last = t - 200ms;
  EXPECT_LT(d.phi(last + 200ms), 1);
  EXPECT_FALSE(d.suspects(last + 1s));                // within the acceptable pause
  EXPECT_TRUE(d.suspects(last + 2500ms));             // far beyond it
  EXPECT_LT(d.phi(last + 1s), d.phi(last + 1500ms));  // rises with the silence
}

// Adaptive: the same silence is more suspicious on a steady link than on a jittery one.
TEST(PhiDetector, AJitteryLinkNeedsALongerSilence) {
  phi_detector steady, jittery;
  auto t1 = clock::now(), t2 = t1;
  for (int i = 0; i < 100; ++i) {
    steady.heartbeat(t1);
    t1 += 200ms;
    jittery.heartbeat(t2);
    t2 += (i % 2 ? 50ms : 700ms);
  }
  auto silence = 1400ms;
  EXPECT_GT(steady.phi(t1 - 200ms + silence), jittery.phi(t2 - 50ms + silence));
}

}  // namespace
}  // namespace keel::cluster
