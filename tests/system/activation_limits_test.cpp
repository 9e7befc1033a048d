// Activations are bounded: lookups of what does not exist keep none, and a node at its
// activation limit evicts the longest-idle ones and loses nothing. Real keel-node, real HTTP.
#include <gtest/gtest.h>

#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;

uint64_t metric(node_process& node, const std::string& name) {
  return metric_value(node.get("/metrics").body, name);
}

TEST(ActivationLimits, LookupsOfRidesThatDoNotExistKeepNoActivation) {
  temp_dir dir;
  node_process node{dir.sub("data")};
  constexpr int lookups = 400;
  for (int i = 0; i < lookups; ++i)
    ASSERT_EQ(node.get("/v1/rides/r-nope" + std::to_string(i)).status, 404);
  // Each miss leaves about a second after its turn, not after --idle-timeout (5 min).
  EXPECT_TRUE(eventually([&] { return metric(node, "keel_activations") == 0; }, 5s))
      << metric(node, "keel_activations") << " activations are still live";
  EXPECT_EQ(metric(node, "keel_activations_started_total"), uint64_t{lookups});
  EXPECT_EQ(metric(node, "keel_passivations_total"), uint64_t{lookups});
}

TEST(ActivationLimits, NodeAtItsLimitEvictsTheIdleAndLosesNoIncrement) {
  temp_dir dir;
  constexpr size_t limit = 100;
  node_process node{dir.sub("data"), {"--max-activations=" + std::to_string(limit)}};
  // Three times the limit, each with stored state (no early leave): only eviction makes room.
  constexpr int counters = 300;
  std::vector<int> acknowledged(counters, 0);
  int refused = 0;
  for (int round = 0; round < 2; ++round)
    for (int c = 0; c < counters; ++c) {
      auto path = "/v1/actors/counter/c" + std::to_string(c) + "/Increment";
      for (int attempt = 0; attempt < 200; ++attempt) {
        auto r = node.post(path, R"({"by":1})");
        if (r.status == 200) {
          ++acknowledged[c];
          break;
        }
        // A refusal at the limit is 503 and must not have happened.
        ASSERT_EQ(r.status, 503) << r.body;
        ASSERT_NE(r.body.find("--max-activations"), std::string::npos) << r.body;
        ++refused;
        std::this_thread::sleep_for(10ms);
      }
      ASSERT_LE(metric(node, "keel_activations"), limit);
    }
  for (int c = 0; c < counters; ++c) {
    ASSERT_EQ(acknowledged[c], 2) << "counter c" << c << " never took its increment";
    auto r = node.post("/v1/actors/counter/c" + std::to_string(c) + "/Get", "{}");
    for (int attempt = 0; r.status == 503 && attempt < 200; ++attempt) {
      ++refused;
      std::this_thread::sleep_for(10ms);
      r = node.post("/v1/actors/counter/c" + std::to_string(c) + "/Get", "{}");
    }
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"value":"2"})") << "counter c" << c;
  }
  EXPECT_GE(metric(node, "keel_activations_evicted_total"), uint64_t{counters * 2 - limit});
  EXPECT_EQ(metric(node, "keel_activations_refused_total"), uint64_t(refused));
}

}  // namespace
}  // namespace keel::test
